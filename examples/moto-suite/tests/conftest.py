"""What a moto server-mode suite has: boto3 pointed at the emulator's URL with its well-known test
credentials, and ``POST /moto-api/reset`` before each test so no test sees another's keys.

Nothing here knows about kmsgw: the same file runs against ``moto_server`` and against ``kmsgw dev``
(which accepts these credentials and this reset in its test mode)."""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import boto3
import pytest

ENDPOINT = os.environ.get("KMS_ENDPOINT_URL", "http://127.0.0.1:5000")  # moto_server's default port


@pytest.fixture(autouse=True)
def reset() -> None:
    """A clean emulator for every test."""
    urllib.request.urlopen(f"{ENDPOINT}/moto-api/reset", data=b"", timeout=30).close()  # noqa: S310 - a POST


@pytest.fixture
def kms() -> Any:
    return boto3.client(
        "kms",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="FOOBARKEY",
        aws_secret_access_key="FOOBARSECRET",  # noqa: S106 - moto's well-known test credential
    )
