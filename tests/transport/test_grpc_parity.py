"""gRPC says what REST says: additional authenticated data on data and data keys, lengths the request's
own bytes give are optional (0), and KeyInfo reports the key's rotation setting."""

from __future__ import annotations

import base64
import os

import pytest

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, dek_plain, expect_error
from tests.support.rest import Rest

AAD = "orders:v1"


# -- lengths from the bytes -------------------------------------------------------------------
@pytest.mark.parametrize("bits", [128, 256, 512])
def test_decrypt_data_key_without_its_length(kms, key_id, bits):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, datakey_length=bits))
    out = kms.DecryptDataKey(pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text))
    assert (out.data_key, out.datakey_length) == (dk.plain_text, bits // 8)


def test_a_length_that_disagrees_is_still_refused(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    for wrong in (16, 33, 1025, -1):
        request = pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=wrong)
        expect_error(INVALID, "KMS.2202", kms.DecryptDataKey, request)


def test_batch_decrypt_data_key_without_lengths(kms, key_id):
    made = kms.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=3, datakey_length=512)).results
    items = [pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=r.cipher_text) for r in made]
    items.append(pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=made[0].cipher_text, datakey_cipher_length=32))
    results = kms.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest(items=items)).results
    assert [(r.data_key, r.datakey_length) for r in results[:3]] == [(m.plain_text, 64) for m in made]
    assert results[3].error.error_code == "KMS.2202" and not results[3].data_key  # 32 disagrees with 64


def test_encrypt_data_key_without_its_length(kms, key_id):
    dek = os.urandom(48)
    out = kms.EncryptDataKey(pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(dek)))
    assert out.datakey_length == 48
    back = kms.DecryptDataKey(pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=out.cipher_text))
    assert back.data_key == dek
    batch = kms.BatchEncryptDataKey(
        pb.BatchEncryptDataKeyRequest(
            items=[
                pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(dek)),
                pb.EncryptDataKeyRequest(key_id=key_id, plain_text=b"\x00" * 32),  # a digest and no key
            ]
        )
    ).results
    assert batch[0].datakey_length == 48 and batch[1].error.error_code == "KMS.2101"
    expect_error(INVALID, "KMS.2101", kms.EncryptDataKey, pb.EncryptDataKeyRequest(key_id=key_id, plain_text=b"x"))


# -- additional authenticated data --------------------------------------------------------------
def test_encrypt_and_decrypt_data_with_aad(kms, key_id):
    sealed = kms.EncryptData(
        pb.EncryptDataRequest(key_id=key_id, plain_text=b"secret", additional_authenticated_data=AAD)
    )
    out = kms.DecryptData(pb.DecryptDataRequest(cipher_text=sealed.cipher_text, additional_authenticated_data=AAD))
    assert out.plain_text == b"secret"
    for wrong in (
        pb.DecryptDataRequest(cipher_text=sealed.cipher_text),
        pb.DecryptDataRequest(cipher_text=sealed.cipher_text, additional_authenticated_data="orders:v2"),
        pb.DecryptDataRequest(cipher_text=sealed.cipher_text, encryption_context={"orders": "v1"}),
    ):
        expect_error(INVALID, "KMS.0308", kms.DecryptData, wrong)


def test_data_keys_with_aad(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, additional_authenticated_data=AAD))
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, additional_authenticated_data=AAD)
    )
    assert out.data_key == dk.plain_text
    wrong = pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, additional_authenticated_data="x")
    expect_error(INVALID, "KMS.2201", kms.DecryptDataKey, wrong)
    batch = kms.BatchCreateDataKey(
        pb.BatchCreateDataKeyRequest(key_id=key_id, count=2, additional_authenticated_data=AAD)
    ).results
    items = [
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=batch[0].cipher_text, additional_authenticated_data=AAD),
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=batch[1].cipher_text),
    ]
    results = kms.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest(items=items)).results
    assert results[0].data_key == batch[0].plain_text and results[1].error.error_code == "KMS.2201"


def test_aad_means_the_same_over_rest_and_grpc(gateway, project, kms, key_id):
    """Encrypted over REST with additional_authenticated_data, decrypted over gRPC with the same."""
    project_id, _ = project
    rest = Rest(gateway.rest_url, project_id, token=gateway.token(project_id))
    try:
        made = rest.ok("/create-datakey", {"key_id": key_id, "additional_authenticated_data": AAD})
        data = rest.ok("/encrypt-data", {"key_id": key_id, "plain_text": "hello", "additional_authenticated_data": AAD})
    finally:
        rest.close()
    dk = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(
            key_id=key_id, cipher_text=bytes.fromhex(made["cipher_text"]), additional_authenticated_data=AAD
        )
    )
    assert dk.data_key.hex().upper() == made["plain_text"]
    plain = kms.DecryptData(
        pb.DecryptDataRequest(cipher_text=base64.b64decode(data["cipher_text"]), additional_authenticated_data=AAD)
    )
    assert plain.plain_text == b"hello"


# -- KeyInfo.key_rotation_enabled ---------------------------------------------------------------
def test_key_info_reports_rotation(kms, key_id):
    assert not kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_rotation_enabled
    kms.EnableKeyRotation(pb.KeyIdRequest(key_id=key_id))
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_rotation_enabled
    listed = {k.key_id: k for k in kms.ListKeys(pb.ListKeysRequest(limit=1000)).key_details}
    assert listed[key_id].key_rotation_enabled
    assert kms.DisableKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_rotation_enabled
    kms.EnableKey(pb.KeyIdRequest(key_id=key_id))
    kms.DisableKeyRotation(pb.KeyIdRequest(key_id=key_id))
    assert not kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_rotation_enabled
