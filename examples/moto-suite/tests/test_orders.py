"""An application's KMS usage, as its moto server-mode tests check it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

CONTEXT = {"order": "42", "tenant": "acme"}


def test_starts_empty(kms: Any) -> None:
    assert kms.list_keys()["Keys"] == []


def test_encrypt_and_decrypt_with_a_context(kms: Any) -> None:
    key_id = kms.create_key(Description="orders")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"card 4111", EncryptionContext=CONTEXT)["CiphertextBlob"]
    answer = kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(CONTEXT.items())))
    assert answer["Plaintext"] == b"card 4111"
    assert answer["KeyId"].endswith(key_id)


def test_a_different_context_does_not_decrypt(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=CONTEXT)["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"order": "43", "tenant": "acme"})
    assert exc.value.response["Error"]["Code"] == "InvalidCiphertextException"


def test_envelope_encryption_with_a_data_key(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=CONTEXT)
    assert len(data_key["Plaintext"]) == 32
    opened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=CONTEXT)
    assert opened["Plaintext"] == data_key["Plaintext"]


def test_an_alias_names_the_key(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId="alias/orders", Plaintext=b"y")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"y"
    assert "alias/orders" in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]


def test_disable_and_enable(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True


def test_the_reset_removed_the_other_tests_keys(kms: Any) -> None:
    assert kms.list_keys()["Keys"] == []
    assert kms.list_aliases(KeyId=kms.create_key()["KeyMetadata"]["KeyId"])["Aliases"] == []
