"""EncryptData / DecryptData over gRPC, and tampered ciphertexts of every kind."""

from __future__ import annotations

import os
import random
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, NOT_FOUND, expect_error, new_key

CTX = {"purpose": "test", "user": "alice"}
HEADER = 22  # format, kind, key id (16), version (4)
IV = 12
TAG = 16


def heals() -> float:
    return REGISTRY.get_sample_value("kmsgw_hsm_heals_total") or 0.0


# -- happy path -------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 100, 4096])
def test_encrypt_decrypt_data(kms, key_id, size):
    plain = os.urandom(size)
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=plain, encryption_context=CTX))
    assert enc.key_id == key_id
    assert len(enc.cipher_text) == HEADER + IV + size + TAG
    assert plain not in enc.cipher_text or size == 1
    # DecryptData needs nothing but the ciphertext (and the context it was bound to).
    dec = kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text, encryption_context=CTX))
    assert (dec.key_id, dec.plain_text) == (key_id, plain)


def test_encrypt_data_fresh_iv(kms, key_id):
    a = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"same")).cipher_text
    b = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"same")).cipher_text
    assert a != b and a[HEADER : HEADER + IV] != b[HEADER : HEADER + IV]


def test_decrypt_data_with_matching_key_id(kms, key_id):
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"x"))
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text, key_id=key_id)).plain_text == b"x"
    other = new_key(kms)
    expect_error(INVALID, "KMS.0308", kms.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text, key_id=other))


def test_encrypt_data_algorithm(kms, key_id):
    enc = kms.EncryptData(
        pb.EncryptDataRequest(key_id=key_id, plain_text=b"x", encryption_algorithm="SYMMETRIC_DEFAULT")
    )
    dec = kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text, encryption_algorithm="SYMMETRIC_DEFAULT"))
    assert dec.plain_text == b"x"
    expect_error(
        INVALID,
        "KMS.0308",
        kms.EncryptData,
        pb.EncryptDataRequest(key_id=key_id, plain_text=b"x", encryption_algorithm="RSAES_OAEP_SHA_256"),
    )


# -- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 4097])
def test_encrypt_data_size_limits(kms, key_id, size):
    expect_error(INVALID, "KMS.0308", kms.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"a" * size))


def test_encrypt_data_unknown_key(kms):
    expect_error(
        NOT_FOUND, "KMS.0207", kms.EncryptData, pb.EncryptDataRequest(key_id=str(uuid.uuid4()), plain_text=b"x")
    )
    expect_error(INVALID, "KMS.0205", kms.EncryptData, pb.EncryptDataRequest(key_id="x", plain_text=b"x"))


def test_decrypt_data_wrong_context(kms, key_id):
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"secret", encryption_context=CTX))
    for ctx in ({}, {"purpose": "test"}, {**CTX, "user": "bob"}):
        err = expect_error(
            INVALID,
            "KMS.0308",
            kms.DecryptData,
            pb.DecryptDataRequest(cipher_text=enc.cipher_text, encryption_context=ctx),
        )
        assert "secret" not in (err.details() or "")


def test_decrypt_data_of_other_project_is_not_found(gateway, kms, key_id):
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"mine"))
    intruder = gateway.stub(gateway.token())
    expect_error(NOT_FOUND, "KMS.0207", intruder.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text))
    expect_error(
        NOT_FOUND, "KMS.0207", intruder.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text, key_id=key_id)
    )
    expect_error(NOT_FOUND, "KMS.0207", intruder.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"x"))


def test_data_key_blob_is_not_data(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    expect_error(INVALID, "KMS.0308", kms.DecryptData, pb.DecryptDataRequest(cipher_text=dk.cipher_text))


# -- tampering --------------------------------------------------------------------------
def _flip(blob: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(blob)
    out[index] ^= mask
    return bytes(out)


def _tampered(blob: bytes) -> dict[str, bytes]:
    n = len(blob)
    rng = random.Random(1234)
    noise = bytearray(rng.randbytes(n))
    noise[0] = 0x7F  # not format 1, so it cannot name a key at all
    return {
        "format": _flip(blob, 0),
        "kind": _flip(blob, 1),
        "version-high": _flip(blob, 18, 0x80),
        "version-low": _flip(blob, 21),
        "iv-first": _flip(blob, HEADER),
        "iv-last": _flip(blob, HEADER + IV - 1),
        "body-first": _flip(blob, HEADER + IV),
        "body-last": _flip(blob, n - TAG - 1),
        "tag-first": _flip(blob, n - TAG),
        "tag-last": _flip(blob, n - 1),
        "truncated-1": blob[:-1],
        "truncated-tag": blob[:-TAG],
        "header-only": blob[:HEADER],
        "one-byte": blob[:1],
        "extended": blob + b"\x00",
        "random": bytes(noise),
        "random-after-header": blob[:HEADER] + rng.randbytes(n - HEADER),
        "empty": b"",
        "zeros": bytes(n),
    }


def test_tampered_data_ciphertext(kms, key_id):
    plain = b"attack at dawn" * 10
    blob = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=plain, encryption_context=CTX)).cipher_text
    heals_before = heals()
    for name, bad in _tampered(blob).items():
        with pytest.raises(grpc.RpcError) as info:
            kms.DecryptData(pb.DecryptDataRequest(cipher_text=bad, encryption_context=CTX))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, info.value.details())
    # A flipped key-id byte names a key that is not the caller's: that is "not found", as for
    # another project's ciphertext (telling the two apart would reveal other projects' keys).
    for i in range(2, 18):
        with pytest.raises(grpc.RpcError) as info:
            kms.DecryptData(pb.DecryptDataRequest(cipher_text=_flip(blob, i), encryption_context=CTX))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, (i, info.value.details())
    # Healthy afterwards: the original still decrypts, and no bad input was mistaken for an HSM fault.
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=blob, encryption_context=CTX)).plain_text == plain
    assert heals() == heals_before


def test_tampered_data_key_ciphertext(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context=CTX))
    blob = dk.cipher_text
    cases = _tampered(blob)
    cases.update({f"key-id-{i}": _flip(blob, i) for i in range(2, 18)})
    heals_before = heals()
    for name, bad in cases.items():
        req = pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=bad, datakey_cipher_length=32, encryption_context=CTX)
        with pytest.raises(grpc.RpcError) as info:
            kms.DecryptDataKey(req)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, info.value.details())
        assert info.value.trailing_metadata() is not None
    # The same through the batch RPC: every item is its own INVALID_ARGUMENT-class error.
    items = [
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=bad, datakey_cipher_length=32, encryption_context=CTX)
        for bad in cases.values()
    ]
    items.append(
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=blob, datakey_cipher_length=32, encryption_context=CTX)
    )
    out = kms.BatchDecryptDataKey(pb.BatchDecryptDataKeyRequest(items=items)).results
    assert {r.error.error_code for r in out[:-1]} <= {"KMS.2201", "KMS.2202"}
    assert all(r.error.error_code for r in out[:-1])
    assert out[-1].data_key == dk.plain_text
    assert heals() == heals_before


def test_server_healthy_after_tampering(gateway, kms, key_id):
    blob = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"x")).cipher_text
    for _ in range(50):
        with pytest.raises(grpc.RpcError):
            kms.DecryptData(pb.DecryptDataRequest(cipher_text=_flip(blob, len(blob) - 1)))
    channel = grpc.insecure_channel(gateway.grpc_target)
    try:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status
    finally:
        channel.close()
    assert status == health_pb2.HealthCheckResponse.SERVING
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    assert len(dk.plain_text) == 32
