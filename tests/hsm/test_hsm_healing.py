"""The HSM session heals itself: a broken session or library costs no restart and no failed request."""

from __future__ import annotations

import hashlib

import httpx
from prometheus_client import REGISTRY

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb


def heals() -> float:
    return REGISTRY.get_sample_value("kmsgw_hsm_heals_total") or 0.0


def scraped_heals(gateway) -> float:
    text = httpx.get(f"{gateway.rest_url}/metrics", timeout=10).text
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith("kmsgw_hsm_heals_total")]
    assert values, "kmsgw_hsm_heals_total is not exported"
    return sum(values)


def roundtrip(kms, key_id: str) -> None:
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
    )
    assert out.data_key == dk.plain_text
    assert out.datakey_digest == hashlib.sha256(dk.plain_text).digest()


def test_closed_session_heals_on_create(gateway, kms, key_id):
    roundtrip(kms, key_id)
    before, scraped_before = heals(), scraped_heals(gateway)
    gateway.rt.executor.run_sync(lambda t: t.session.close())
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))  # no error, no restart
    assert len(dk.plain_text) == 32
    assert heals() >= before + 1
    assert scraped_heals(gateway) >= scraped_before + 1
    roundtrip(kms, key_id)


def test_closed_session_heals_on_decrypt(gateway, kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context={"a": "b"}))
    before = heals()
    gateway.rt.executor.run_sync(lambda t: t.session.close())
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(
            key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32, encryption_context={"a": "b"}
        )
    )
    assert out.data_key == dk.plain_text
    assert heals() >= before + 1


def test_closed_session_heals_on_create_key_and_random(gateway, kms):
    before = heals()
    gateway.rt.executor.run_sync(lambda t: t.session.close())
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="after-heal")).key_info.key_id
    roundtrip(kms, key_id)
    gateway.rt.executor.run_sync(lambda t: t.session.close())
    # Drain the RNG cache so the next draw must reach the (closed) session.
    gateway.rt.executor.run_sync(lambda t: t.link.drop_random())
    assert len(kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=256)).random_data) == 32
    assert heals() >= before + 2


def test_reinitialized_library_heals(gateway, kms, key_id):
    """Every session handle dies when the library is finalized and initialized again."""
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"before"))
    before = heals()
    gateway.rt.executor.run_sync(lambda t: t.link.reinitialize_library())
    roundtrip(kms, key_id)
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == b"before"
    assert heals() >= before + 1


def test_repeated_faults(gateway, kms, key_id):
    before = heals()
    for _ in range(5):
        gateway.rt.executor.run_sync(lambda t: t.session.close())
        roundtrip(kms, key_id)
    assert heals() >= before + 5


def test_bad_input_is_not_a_fault(gateway, kms, key_id):
    """A forged ciphertext fails the GCM tag: an INVALID_ARGUMENT answer, not a session rebuild."""
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    forged = dk.cipher_text[:-1] + bytes([dk.cipher_text[-1] ^ 1])
    before = heals()
    out = kms.BatchDecryptDataKey(
        pb.BatchDecryptDataKeyRequest(
            items=[
                pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=forged, datakey_cipher_length=32) for _ in range(20)
            ]
        )
    )
    assert {r.error.error_code for r in out.results} == {"KMS.2201"}
    assert heals() == before
