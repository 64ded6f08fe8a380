"""The AWS API when the token fails, is late, or a caller is too fast — the answers botocore parses
(and retries: 500 and 503 are server faults to it, ThrottlingException a throttle):

* a token job that cannot start within ``[aws] hsm_start_timeout_ms``: 503 DependencyTimeoutException
  on every operation that asks the token (the deadline is made tiny, so any queued job is late, as
  tests/xks reaches its own 503), while those that do not ask it keep answering;
* over ``[limits.operations]``: 400 ThrottlingException with Retry-After;
* a token that fails (the dev gateway's fault switch): 500 KeyUnavailableException with no detail of
  the fault, and service again once the token is back, without a restart.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from gateway.core import ciphertext as ct
from tests.aws.conftest import AwsGateway, dev_client, kmsgw_dev
from tests.support.serve import start_serve


def _code(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_late_token_job_and_a_caller_over_its_rate(tmp_path: Path) -> None:
    config = tmp_path / "kmsgw.toml"
    config.write_text(
        "[aws]\nenabled = true\nhsm_start_timeout_ms = 0.000001\n"
        "[limits.operations]\naws_list_key_policies = { rate = 0.001, burst = 2 }\n"
    )
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

        assert [kms.list_key_policies(KeyId=key_id)["PolicyNames"] for _ in range(2)] == [["default"]] * 2
        with pytest.raises(ClientError) as exc:
            kms.list_key_policies(KeyId=key_id)
        response = exc.value.response
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ThrottlingException",
            400,
        )
        assert int(response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1
    finally:
        assert srv.terminate() == 0


def test_a_failing_token_is_key_unavailable(tmp_path: Path) -> None:
    with kmsgw_dev(tmp_path) as info:
        kms = dev_client(str(info["aws_endpoint"]))
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
        auth = {"Authorization": f"Bearer {info['control_token']}"}
        with httpx.Client(base_url=str(info["control_url"]), headers=auth, timeout=30) as control:
            control.post("/v1/faults", json={"hsm_unavailable": True}).raise_for_status()
            for call, kwargs in (
                (kms.encrypt, {"KeyId": key_id, "Plaintext": b"x"}),
                (kms.decrypt, {"CiphertextBlob": blob}),
                (kms.generate_data_key, {"KeyId": key_id, "NumberOfBytes": 32}),
            ):
                with pytest.raises(ClientError) as exc:
                    call(**kwargs)
                error = exc.value.response["Error"]
                assert (error["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
                    "KeyUnavailableException",
                    500,
                )
                assert "Device" not in error.get("Message", "")  # the token's own error stays in the log
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"  # no token job
            control.post("/v1/faults/reset").raise_for_status()
        deadline = time.monotonic() + 30  # the executor's back-off after a failing token passes first
        while True:
            try:
                assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
                break
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "KeyUnavailableException"
                assert time.monotonic() < deadline, "no service after the token came back"
                time.sleep(0.2)
