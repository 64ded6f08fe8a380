"""`kmsgw dev` serves the AWS API in test mode: the emulators' test credentials, the endpoint in
.kmsgw-dev.env, and moto's POST /moto-api/reset; `kmsgw serve` has none of them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.aws.conftest import AwsGateway


def test_kmsgw_dev_is_a_moto_server(tmp_path: Path) -> None:
    env_file = tmp_path / ".kmsgw-dev.env"
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "dev", "--env-file", str(env_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not (env_file.exists() and "KMSGW_AWS_ENDPOINT" in env_file.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None, "kmsgw dev did not start"
            time.sleep(0.2)
        lines = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        url = lines["KMSGW_AWS_ENDPOINT"].strip('"')
        assert lines["AWS_ENDPOINT_URL_KMS"].strip('"') == url
        moto = boto3.client("kms", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="FOOBARKEY", aws_secret_access_key="FOOBARSECRET")  # fmt: skip
        key = moto.create_key()["KeyMetadata"]
        assert key["Arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
        other = boto3.client("kms", endpoint_url=url, region_name="us-east-1",
                             aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
        assert other.list_keys()["Keys"] == []  # account 000000000000
        assert httpx.post(url + "/moto-api/reset", timeout=30).status_code == 200
        assert moto.list_keys()["Keys"] == []
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_knows_no_test_credentials(aws_gateway: AwsGateway) -> None:
    client = aws_gateway.client({"AccessKeyId": "FOOBARKEY", "SecretAccessKey": "FOOBARSECRET"})
    with pytest.raises(ClientError) as exc:
        client.list_keys()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
    resp = httpx.post(aws_gateway.endpoint + "/moto-api/reset", timeout=30)
    assert "deleted_keys" not in resp.text
