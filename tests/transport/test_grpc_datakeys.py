"""Random bytes and data keys over gRPC: create, encrypt, decrypt, batches, and their errors."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, NOT_FOUND, PRECONDITION, default_key, dek_plain, expect_error, new_key

CTX = {"app": "billing", "tenant": "t-1"}


def decrypt_req(key_id: str, cipher_text: bytes, length: int = 32, ctx=None) -> pb.DecryptDataKeyRequest:
    return pb.DecryptDataKeyRequest(
        key_id=key_id, cipher_text=cipher_text, datakey_cipher_length=length, encryption_context=ctx or {}
    )


# -- GenerateRandom ---------------------------------------------------------------------
@pytest.mark.parametrize("bits", [8, 256, 512, 8192])
def test_generate_random(kms, bits):
    data = kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=bits)).random_data
    assert len(data) == bits // 8


def test_generate_random_differs(kms):
    a = kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=256)).random_data
    b = kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=256)).random_data
    assert a != b


@pytest.mark.parametrize("bits", [0, -8, 4, 12, 8200, 16384])
def test_generate_random_bad_length(kms, bits):
    expect_error(INVALID, "KMS.1801", kms.GenerateRandom, pb.GenerateRandomRequest(random_data_length=bits))


# -- CreateDataKey / CreateDataKeyWithoutPlaintext --------------------------------------
def test_create_data_key_default_length(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    assert dk.key_id == key_id
    assert len(dk.plain_text) == 32
    assert dk.plain_text not in dk.cipher_text
    out = kms.DecryptDataKey(decrypt_req(key_id, dk.cipher_text))
    assert out.data_key == dk.plain_text
    assert out.datakey_length == 32
    assert out.datakey_digest == hashlib.sha256(dk.plain_text).digest()


@pytest.mark.parametrize("bits", [8, 128, 512, 8192])
def test_create_data_key_lengths(kms, key_id, bits):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, datakey_length=bits, encryption_context=CTX))
    assert len(dk.plain_text) == bits // 8
    out = kms.DecryptDataKey(decrypt_req(key_id, dk.cipher_text, bits // 8, CTX))
    assert (out.data_key, out.datakey_length) == (dk.plain_text, bits // 8)


@pytest.mark.parametrize("bits", [-8, 4, 12, 8200])
def test_create_data_key_bad_length(kms, key_id, bits):
    req = pb.CreateDataKeyRequest(key_id=key_id, datakey_length=bits)
    expect_error(INVALID, "KMS.1901", kms.CreateDataKey, req)
    expect_error(INVALID, "KMS.2001", kms.CreateDataKeyWithoutPlaintext, req)


def test_create_data_key_without_plaintext(kms, key_id):
    dk = kms.CreateDataKeyWithoutPlaintext(pb.CreateDataKeyRequest(key_id=key_id, datakey_length=512))
    assert dk.key_id == key_id and dk.plain_text == b"" and dk.cipher_text
    out = kms.DecryptDataKey(decrypt_req(key_id, dk.cipher_text, 64))
    assert len(out.data_key) == 64 and out.datakey_digest == hashlib.sha256(out.data_key).digest()


def test_data_keys_are_distinct(kms, key_id):
    keys = {kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id)).plain_text for _ in range(20)}
    assert len(keys) == 20


def test_create_data_key_unknown_and_malformed_key(kms):
    expect_error(NOT_FOUND, "KMS.0207", kms.CreateDataKey, pb.CreateDataKeyRequest(key_id=str(uuid.uuid4())))
    expect_error(INVALID, "KMS.0205", kms.CreateDataKey, pb.CreateDataKeyRequest(key_id="nope"))
    expect_error(INVALID, "KMS.0205", kms.CreateDataKey, pb.CreateDataKeyRequest())


# -- EncryptDataKey ---------------------------------------------------------------------
def test_encrypt_data_key_roundtrip(kms, key_id):
    dek = os.urandom(48)
    out = kms.EncryptDataKey(
        pb.EncryptDataKeyRequest(
            key_id=key_id, plain_text=dek_plain(dek), datakey_plain_length=48, encryption_context=CTX
        )
    )
    assert (out.key_id, out.datakey_length) == (key_id, 48)
    assert dek not in out.cipher_text
    back = kms.DecryptDataKey(decrypt_req(key_id, out.cipher_text, 48, CTX))
    assert back.data_key == dek and back.datakey_digest == hashlib.sha256(dek).digest()


@pytest.mark.parametrize("n", [1, 1024])
def test_encrypt_data_key_length_edges(kms, key_id, n):
    dek = os.urandom(n)
    out = kms.EncryptDataKey(pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(dek), datakey_plain_length=n))
    assert kms.DecryptDataKey(decrypt_req(key_id, out.cipher_text, n)).data_key == dek


def test_encrypt_data_key_wrong_digest(kms, key_id):
    dek = os.urandom(32)
    forged = dek + hashlib.sha256(b"something else").digest()
    expect_error(
        INVALID,
        "KMS.2103",
        kms.EncryptDataKey,
        pb.EncryptDataKeyRequest(key_id=key_id, plain_text=forged, datakey_plain_length=32),
    )


@pytest.mark.parametrize(
    ("plain_len", "declared", "code"),
    [
        (32, 1025, "KMS.2102"),  # declared length out of range (0: from the bytes, test_grpc_parity.py)
        (32, -1, "KMS.2102"),
        (32, 16, "KMS.2101"),  # plain_text is not declared length + 32
        (32, 48, "KMS.2101"),
    ],
)
def test_encrypt_data_key_bad_lengths(kms, key_id, plain_len, declared, code):
    plain = dek_plain(os.urandom(plain_len))
    req = pb.EncryptDataKeyRequest(key_id=key_id, plain_text=plain, datakey_plain_length=declared)
    expect_error(INVALID, code, kms.EncryptDataKey, req)


def test_encrypt_data_key_empty_plain_text(kms, key_id):
    req = pb.EncryptDataKeyRequest(key_id=key_id, plain_text=b"", datakey_plain_length=32)
    expect_error(INVALID, "KMS.2101", kms.EncryptDataKey, req)


def test_encrypt_data_key_unknown_key(kms):
    dek = os.urandom(32)
    req = pb.EncryptDataKeyRequest(key_id=str(uuid.uuid4()), plain_text=dek_plain(dek), datakey_plain_length=32)
    expect_error(NOT_FOUND, "KMS.0207", kms.EncryptDataKey, req)


# -- DecryptDataKey ---------------------------------------------------------------------
def test_decrypt_data_key_wrong_context(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context=CTX))
    for ctx in ({}, {"app": "billing"}, {**CTX, "tenant": "t-2"}, {**CTX, "extra": "1"}):
        expect_error(INVALID, "KMS.2201", kms.DecryptDataKey, decrypt_req(key_id, dk.cipher_text, 32, ctx))
    assert kms.DecryptDataKey(decrypt_req(key_id, dk.cipher_text, 32, dict(reversed(CTX.items())))).data_key == (
        dk.plain_text
    )


def test_decrypt_data_key_context_where_none_was_given(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    expect_error(INVALID, "KMS.2201", kms.DecryptDataKey, decrypt_req(key_id, dk.cipher_text, 32, {"a": "b"}))


@pytest.mark.parametrize("length", [16, 31, 33, 64])
def test_decrypt_data_key_length_mismatch(kms, key_id, length):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    expect_error(INVALID, "KMS.2202", kms.DecryptDataKey, decrypt_req(key_id, dk.cipher_text, length))


@pytest.mark.parametrize("length", [-1, 1025])  # 0: from the bytes (test_grpc_parity.py)
def test_decrypt_data_key_length_out_of_range(kms, key_id, length):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    expect_error(INVALID, "KMS.2202", kms.DecryptDataKey, decrypt_req(key_id, dk.cipher_text, length))


def test_decrypt_data_key_under_another_key(kms, key_id):
    other = new_key(kms)
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    expect_error(INVALID, "KMS.2201", kms.DecryptDataKey, decrypt_req(other, dk.cipher_text))


def test_data_ciphertext_is_not_a_data_key(kms, key_id):
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=os.urandom(32)))
    expect_error(INVALID, "KMS.2201", kms.DecryptDataKey, decrypt_req(key_id, enc.cipher_text))


# -- key state --------------------------------------------------------------------------
def _crypto_calls(kms, key_id: str, cipher_text: bytes):
    dek = os.urandom(32)
    return [
        (kms.CreateDataKey, pb.CreateDataKeyRequest(key_id=key_id)),
        (kms.CreateDataKeyWithoutPlaintext, pb.CreateDataKeyRequest(key_id=key_id)),
        (
            kms.EncryptDataKey,
            pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(dek), datakey_plain_length=32),
        ),
        (kms.DecryptDataKey, decrypt_req(key_id, cipher_text)),
        (kms.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"hello")),
    ]


def test_disabled_key_refuses_crypto(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"hello"))
    kms.DisableKey(pb.KeyIdRequest(key_id=key_id))
    for fn, req in _crypto_calls(kms, key_id, dk.cipher_text):
        expect_error(PRECONDITION, "KMS.0209", fn, req)
    expect_error(PRECONDITION, "KMS.0209", kms.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text))
    kms.EnableKey(pb.KeyIdRequest(key_id=key_id))
    assert kms.DecryptDataKey(decrypt_req(key_id, dk.cipher_text)).data_key == dk.plain_text


def test_pending_deletion_key_refuses_crypto(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"hello"))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    for fn, req in _crypto_calls(kms, key_id, dk.cipher_text):
        expect_error(PRECONDITION, "KMS.0210", fn, req)
    expect_error(PRECONDITION, "KMS.0210", kms.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text))
    kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=key_id))
    kms.EnableKey(pb.KeyIdRequest(key_id=key_id))
    assert kms.DecryptDataKey(decrypt_req(key_id, dk.cipher_text)).data_key == dk.plain_text


def test_other_projects_key_is_not_found_for_crypto(gateway, kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    intruder = gateway.stub(gateway.token())
    for fn, req in _crypto_calls(intruder, key_id, dk.cipher_text):
        expect_error(NOT_FOUND, "KMS.0207", fn, req)
    batch = intruder.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest(items=[decrypt_req(key_id, dk.cipher_text)]))
    assert batch.results[0].error.error_code == "KMS.0207" and not batch.results[0].data_key
    expect_error(
        NOT_FOUND, "KMS.0207", intruder.BatchCreateDataKey, pb.BatchCreateDataKeyRequest(key_id=key_id, count=2)
    )
    # An intruder's own key cannot open the victim's data key either.
    mine = new_key(intruder)
    expect_error(INVALID, "KMS.2201", intruder.DecryptDataKey, decrypt_req(mine, dk.cipher_text))


# -- batches ----------------------------------------------------------------------------
def test_batch_create_data_key(kms, key_id):
    out = kms.BatchCreateDataKey(
        pb.BatchCreateDataKeyRequest(key_id=key_id, count=10, datakey_length=128, encryption_context=CTX)
    )
    assert out.key_id == key_id and len(out.results) == 10
    plains = [r.plain_text for r in out.results]
    assert all(len(p) == 16 for p in plains) and len(set(plains)) == 10
    assert all(not r.HasField("error") for r in out.results)
    back = kms.BatchDecryptDataKey(
        pb.BatchDecryptDataKeyRequest(items=[decrypt_req(key_id, r.cipher_text, 16, CTX) for r in out.results])
    )
    assert [r.data_key for r in back.results] == plains


def test_batch_create_without_plaintext(kms, key_id):
    out = kms.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=3, without_plaintext=True))
    assert [r.plain_text for r in out.results] == [b"", b"", b""]
    back = kms.BatchDecryptDataKey(
        pb.BatchDecryptDataKeyRequest(items=[decrypt_req(key_id, r.cipher_text) for r in out.results])
    )
    assert all(len(r.data_key) == 32 and not r.HasField("error") for r in back.results)


@pytest.mark.parametrize("count", [0, -1, 1001])
def test_batch_create_bad_count(kms, key_id, count):
    expect_error(INVALID, "KMS.0308", kms.BatchCreateDataKey, pb.BatchCreateDataKeyRequest(key_id=key_id, count=count))


def test_batch_create_bad_length_and_state(kms, key_id):
    expect_error(
        INVALID,
        "KMS.1901",
        kms.BatchCreateDataKey,
        pb.BatchCreateDataKeyRequest(key_id=key_id, count=2, datakey_length=7),
    )
    expect_error(
        INVALID,
        "KMS.2001",
        kms.BatchCreateDataKey,
        pb.BatchCreateDataKeyRequest(key_id=key_id, count=2, datakey_length=7, without_plaintext=True),
    )
    kms.DisableKey(pb.KeyIdRequest(key_id=key_id))
    expect_error(PRECONDITION, "KMS.0209", kms.BatchCreateDataKey, pb.BatchCreateDataKeyRequest(key_id=key_id, count=2))


def test_batch_encrypt_data_key_per_item_errors(kms, key_id):
    disabled = new_key(kms)
    kms.DisableKey(pb.KeyIdRequest(key_id=disabled))
    deks = [os.urandom(32) for _ in range(6)]
    items = [
        pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(deks[0]), datakey_plain_length=32),
        pb.EncryptDataKeyRequest(key_id=key_id, plain_text=deks[1] + bytes(32), datakey_plain_length=32),  # bad digest
        pb.EncryptDataKeyRequest(key_id=str(uuid.uuid4()), plain_text=dek_plain(deks[2]), datakey_plain_length=32),
        pb.EncryptDataKeyRequest(key_id=disabled, plain_text=dek_plain(deks[3]), datakey_plain_length=32),
        pb.EncryptDataKeyRequest(key_id="bad", plain_text=dek_plain(deks[4]), datakey_plain_length=32),
        pb.EncryptDataKeyRequest(
            key_id=key_id, plain_text=dek_plain(deks[5]), datakey_plain_length=32, encryption_context=CTX
        ),
    ]
    out = kms.BatchEncryptDataKey(pb.BatchEncryptDataKeyRequest(items=items)).results
    assert len(out) == 6
    assert [r.error.error_code for r in out] == ["", "KMS.2103", "KMS.0207", "KMS.0209", "KMS.0205", ""]
    assert all(r.error.error_msg for r in out[1:5])
    assert not out[1].cipher_text and not out[2].cipher_text
    assert (out[0].key_id, out[0].datakey_length) == (key_id, 32)
    back = kms.BatchDecryptDataKey(
        pb.BatchDecryptDataKeyRequest(
            items=[decrypt_req(key_id, out[0].cipher_text), decrypt_req(key_id, out[5].cipher_text, 32, CTX)]
        )
    ).results
    assert [r.data_key for r in back] == [deks[0], deks[5]]


def test_batch_decrypt_data_key_per_item_errors(kms, key_id):
    made = kms.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=3, encryption_context=CTX))
    good = [r.cipher_text for r in made.results]
    tampered = bytearray(good[1])
    tampered[-1] ^= 1
    items = [
        decrypt_req(key_id, good[0], 32, CTX),
        decrypt_req(key_id, bytes(tampered), 32, CTX),
        decrypt_req(key_id, good[2], 32, {"app": "other"}),
        decrypt_req(key_id, good[2], 16, CTX),
        decrypt_req(str(uuid.uuid4()), good[2], 32, CTX),
        decrypt_req(key_id, b"", 32, CTX),
        decrypt_req(key_id, good[2], 32, CTX),
    ]
    out = kms.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest(items=items)).results
    assert [r.error.error_code for r in out] == ["", "KMS.2201", "KMS.2201", "KMS.2202", "KMS.0207", "KMS.2201", ""]
    assert out[0].data_key == made.results[0].plain_text
    assert out[6].data_key == made.results[2].plain_text
    assert out[6].datakey_length == 32 and out[6].datakey_digest == hashlib.sha256(out[6].data_key).digest()
    assert all(not r.data_key for r in out[1:6])


def test_batch_empty(kms):
    assert len(kms.BatchEncryptDataKey(pb.BatchEncryptDataKeyRequest()).results) == 0
    assert len(kms.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest()).results) == 0


def test_batch_mixed_keys(kms, key_id):
    other = new_key(kms)
    a = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    b = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=other))
    out = kms.BatchDecryptDataKey(
        pb.BatchDecryptDataKeyRequest(
            items=[
                decrypt_req(key_id, a.cipher_text),
                decrypt_req(other, b.cipher_text),
                decrypt_req(other, a.cipher_text),
            ]
        )
    ).results
    assert [r.data_key for r in out[:2]] == [a.plain_text, b.plain_text]
    assert out[2].error.error_code == "KMS.2201"


def test_default_key_for_data_keys(gateway, project):
    project_id, kms = project
    key_id = default_key(gateway, gateway.token(project_id), "rds/default")
    out = kms.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=2))
    assert len(out.results) == 2


def test_batch_item_count_is_bounded(kms, key_id):
    """A batch over 1000 items is refused whole (INVALID_ARGUMENT KMS.0308), not per item."""
    dec = [pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=b"x", datakey_cipher_length=32)] * 1001
    expect_error(INVALID, "KMS.0308", kms.BatchDecryptDataKey, pb.BatchDecryptDataKeyRequest(items=dec))
    enc = [pb.EncryptDataKeyRequest(key_id=key_id, plain_text=b"x", datakey_plain_length=1)] * 1001
    expect_error(INVALID, "KMS.0308", kms.BatchEncryptDataKey, pb.BatchEncryptDataKeyRequest(items=enc))


def test_batch_checks_each_key_once(gateway, kms, key_id, monkeypatch):
    """A batch of 50 items under one key reads that key's row at most once, not 50 times (hot path)."""
    created = kms.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=50)).results
    reads: list[str] = []
    real = gateway.rt.store.get_key_by_id
    monkeypatch.setattr(gateway.rt.store, "get_key_by_id", lambda k, *a, **kw: reads.append(k) or real(k, *a, **kw))
    items = [
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=c.cipher_text, datakey_cipher_length=32) for c in created
    ]
    out = kms.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest(items=items)).results
    assert [r.data_key for r in out] == [c.plain_text for c in created]
    assert reads.count(key_id) <= 1  # 0 when the short key cache still holds the row
