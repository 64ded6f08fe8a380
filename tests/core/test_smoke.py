"""The shortest path through the gateway: a key, a data key, and back."""

from __future__ import annotations

import hashlib

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb


def test_create_and_decrypt_data_key(kms, key_id):
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context={"app": "x"}))
    assert len(dk.plain_text) == 32
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(
            key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32, encryption_context={"app": "x"}
        )
    )
    assert out.data_key == dk.plain_text
    assert out.datakey_digest == hashlib.sha256(dk.plain_text).digest()
