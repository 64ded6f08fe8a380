"""A real `kmsgw serve --aws` for the AWS KMS API tests, with AWS access keys made by the CLI and
boto3 clients signing with real SigV4 (botocore parses the errors as it does AWS's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

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
