"""A key that is not enabled refuses every cryptographic operation, as AWS answers: DisabledException
when disabled, KMSInvalidStateException when pending deletion or pending import — on Encrypt,
Decrypt, ReEncrypt (as source and as destination), both data-key operations, Sign, Verify and
GetPublicKey, whichever way the request names the key. Management calls keep answering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gateway.core import ciphertext as ct
from tests.aws.test_keys import error

Call = Callable[[], object]


def _refusals(calls: dict[str, Call]) -> dict[str, tuple[str, int]]:
    out = {}
    for name, call in calls.items():
        with pytest.raises(ClientError) as exc:
            call()
        out[name] = error(exc)[:2]
    return out


def _symmetric_calls(kms: Any, key: dict[str, Any], blob: bytes, other: dict[str, Any]) -> dict[str, Call]:
    ref = key["Arn"]
    return {
        "Encrypt": lambda: kms.encrypt(KeyId=ref, Plaintext=b"x"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "Decrypt with KeyId": lambda: kms.decrypt(CiphertextBlob=blob, KeyId=ref),
        "ReEncrypt from": lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other["KeyId"]),
        "ReEncrypt to": lambda: kms.re_encrypt(
            CiphertextBlob=kms.encrypt(KeyId=other["KeyId"], Plaintext=b"y")["CiphertextBlob"], DestinationKeyId=ref
        ),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext": lambda: kms.generate_data_key_without_plaintext(
            KeyId=key["KeyId"], NumberOfBytes=16
        ),
    }


def _signing_calls(kms: Any, key: dict[str, Any], signature: bytes) -> dict[str, Call]:
    algorithm = {"SigningAlgorithm": "ECDSA_SHA_256", "MessageType": "RAW"}
    return {
        "Sign": lambda: kms.sign(KeyId=key["KeyId"], Message=b"m", **algorithm),
        "Verify": lambda: kms.verify(KeyId=key["KeyId"], Message=b"m", Signature=signature, **algorithm),
        "GetPublicKey": lambda: kms.get_public_key(KeyId=key["Arn"]),
    }


@pytest.mark.parametrize(
    ("leave_enabled", "expected"),
    [
        (lambda kms, key_id: kms.disable_key(KeyId=key_id), ("DisabledException", 400)),
        (
            lambda kms, key_id: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7),
            ("KMSInvalidStateException", 400),
        ),
    ],
    ids=["disabled", "pending-deletion"],
)
def test_every_cryptographic_operation_refuses_a_key_not_enabled(
    kms: Any, leave_enabled: Callable[[Any, str], object], expected: tuple[str, int]
) -> None:
    key, other = kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    signature = kms.sign(KeyId=signer["KeyId"], Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    leave_enabled(kms, key["KeyId"])
    leave_enabled(kms, signer["KeyId"])
    calls = _symmetric_calls(kms, key, blob, other) | _signing_calls(kms, signer, signature["Signature"])
    assert _refusals(calls) == dict.fromkeys(calls, expected)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Enabled"] is False  # management still answers
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_a_key_pending_import_refuses_them_too(kms: Any) -> None:
    key, other = kms.create_key(Origin="EXTERNAL")["KeyMetadata"], kms.create_key()["KeyMetadata"]
    blob = ct.header(ct.KIND_DATA, key["KeyId"], 1) + bytes(12) + bytes(32)  # names the key; never opened
    calls = _symmetric_calls(kms, key, blob, other)
    assert _refusals(calls) == dict.fromkeys(calls, ("KMSInvalidStateException", 400))
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
