"""A real `kmsgw serve --aws` for the AWS KMS API tests, with AWS access keys made by the CLI and
boto3 clients signing with real SigV4 (botocore parses the errors as it does AWS's)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from gateway.testing import envfile
from tests.support.rest import Rest
from tests.support.serve import ServeProcess, cli, start_serve

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"


@dataclass
class AwsGateway:
    srv: ServeProcess
    data_dir: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.srv.http_port}"

    def credential(self, account: str = ACCOUNT, *extra: str) -> dict[str, Any]:
        return cli(self.data_dir, "aws", "credentials", "create", "--account-id", account, *extra)

    def client(self, cred: dict[str, Any], region: str = REGION) -> Any:
        return boto3.client(
            "kms",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=cred["AccessKeyId"],
            aws_secret_access_key=cred["SecretAccessKey"],
            config=BotoConfig(retries={"max_attempts": 1}),
        )

    def rest(self, project_id: str) -> Rest:
        token = cli(self.data_dir, "token", "create", "--project-id", project_id)
        return Rest(self.endpoint, project_id, token=token["token"])


@pytest.fixture(scope="session")
def aws_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsGateway]:
    data_dir = tmp_path_factory.mktemp("aws") / "var"
    srv = start_serve(data_dir, "--aws", "--workers", "1")
    yield AwsGateway(srv, data_dir)
    assert srv.terminate() == 0


@pytest.fixture(scope="session")
def admin(aws_gateway: AwsGateway) -> dict[str, Any]:
    return aws_gateway.credential(ACCOUNT, "--user", "admin")


@pytest.fixture(scope="session")
def kms(aws_gateway: AwsGateway, admin: dict[str, Any]) -> Any:
    return aws_gateway.client(admin)


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    return kms.create_key(Description=f"test {uuid.uuid4().hex[:8]}")["KeyMetadata"]


@contextlib.contextmanager
def kmsgw_dev(cwd: Path, *args: str) -> Iterator[dict[str, Any]]:
    """`kmsgw dev ARGS` (in ``cwd``) until the block ends; the values of its ready line
    (``aws_endpoint``, ``control_url``, ``control_token``...). It must stop cleanly on SIGTERM."""
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "dev", "--no-env-file", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        info = next((i for line in proc.stdout if (i := envfile.parse_ready(line.strip())) is not None), None)
        assert info is not None, f"kmsgw dev did not start ({proc.poll()})"
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def dev_client(endpoint: str, access_key: str = "FOOBARKEY", secret: str = "FOOBARSECRET") -> Any:
    """A boto3 KMS client with the emulators' test credential (a dev gateway's), no retries."""
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=BotoConfig(retries={"max_attempts": 1}),
    )
