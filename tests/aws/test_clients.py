"""Real AWS clients against `kmsgw serve --aws`: the AWS CLI (awscli from PyPI) with --endpoint-url,
and the AWS Encryption SDK for Python through a KMS master key provider pointed at the gateway
(it insists on exact key ARNs and data-key lengths)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.aws.conftest import REGION, AwsGateway


def aws_cli(gw: AwsGateway, cred: dict[str, Any], *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": cred["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": cred["SecretAccessKey"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    argv = [sys.executable, "-m", "awscli", "kms", *args, "--endpoint-url", gw.endpoint, "--output", "json"]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout)) if out.stdout.strip() else {}


def test_aws_cli_round_trip(aws_gateway: AwsGateway, admin: dict[str, Any], tmp_path: Path) -> None:
    key = aws_cli(aws_gateway, admin, "create-key", "--description", "from the CLI")["KeyMetadata"]
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"hello from the aws cli")
    out = aws_cli(
        aws_gateway, admin, "encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{plain}",
        "--encryption-context", "purpose=test",
    )  # fmt: skip
    assert out["KeyId"] == key["Arn"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    back = aws_cli(
        aws_gateway, admin, "decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "purpose=test"
    )
    assert base64.b64decode(back["Plaintext"]) == b"hello from the aws cli"
    assert back["KeyId"] == key["Arn"]


def test_encryption_sdk(aws_gateway: AwsGateway, admin: dict[str, Any], kms: Any, monkeypatch: Any) -> None:
    import aws_encryption_sdk
    import botocore.session
    from aws_encryption_sdk import CommitmentPolicy
    from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider

    key = kms.create_key(Description="encryption sdk")["KeyMetadata"]
    session = botocore.session.get_session()
    session.set_credentials(admin["AccessKeyId"], admin["SecretAccessKey"])
    session.set_config_variable("region", REGION)

    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", aws_gateway.endpoint)  # botocore's per-service endpoint setting
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[key["Arn"]], botocore_session=session)
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    message, header = client.encrypt(source=b"envelope" * 100, key_provider=provider, encryption_context={"app": "t"})
    assert [k.key_provider.key_info for k in header.encrypted_data_keys] == [key["Arn"].encode()]
    plain, decrypt_header = client.decrypt(source=message, key_provider=provider)
    assert plain == b"envelope" * 100 and decrypt_header.encryption_context["app"] == "t"
