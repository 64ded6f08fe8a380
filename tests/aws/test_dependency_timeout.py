"""A token job that cannot start within ``[aws] hsm_start_timeout_ms``: 503 DependencyTimeoutException
on every operation that asks the token (botocore parses it, and would retry it), while the operations
that do not ask it keep answering. The deadline is made tiny, so any queued job is late (as tests/xks
reaches its own 503)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gateway.core import ciphertext as ct
from tests.aws.conftest import AwsGateway
from tests.support.serve import start_serve


def _code(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_late_token_job_is_dependency_timeout(tmp_path: Path) -> None:
    config = tmp_path / "kmsgw.toml"
    config.write_text("[aws]\nenabled = true\nhsm_start_timeout_ms = 0.000001\n")
    data_dir = tmp_path / "var"
    srv = start_serve(data_dir, "--config", str(config), "--workers", "1")
    try:
        gw = AwsGateway(srv, data_dir)
        kms = gw.client(gw.credential())
        key = kms.create_key(Description="late")["KeyMetadata"]  # creating a key has no such deadline
        key_id = key["KeyId"]
        fake = ct.header(ct.KIND_DATA, key_id, 1) + bytes(12) + bytes(32)  # opens nothing: the token is asked
        late = ("DependencyTimeoutException", 503)
        assert _code(kms.encrypt, KeyId=key_id, Plaintext=b"x") == late
        assert _code(kms.decrypt, CiphertextBlob=fake) == late
        assert _code(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256") == late
        assert _code(kms.generate_data_key_without_plaintext, KeyId=key_id, NumberOfBytes=16) == late
        assert _code(kms.generate_random, NumberOfBytes=16) == late
        assert _code(kms.re_encrypt, CiphertextBlob=fake, DestinationKeyId=key_id) == late
        assert kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyState"] == "Enabled"  # no token job
        assert _code(kms.describe_key, KeyId=str(uuid.uuid4())) == ("NotFoundException", 400)
        assert _code(kms.encrypt, KeyId=str(uuid.uuid4()), Plaintext=b"x") == ("NotFoundException", 400)
    finally:
        assert srv.terminate() == 0
