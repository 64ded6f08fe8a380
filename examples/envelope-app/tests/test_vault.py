"""Envelope encryption over gRPC against a real KMS: a fresh project and key per test."""

from __future__ import annotations

import grpc
import pytest
from envelope_app import Vault

from gateway.client import KmsClientError


def test_a_record_round_trips(vault):
    sealed = vault.seal(b"order 1042: 3 x widget", {"record": "1042"})
    assert vault.open(sealed) == b"order 1042: 3 x widget"
    assert vault.retries == 0


def test_the_encryption_context_is_bound(vault):
    sealed = vault.seal(b"order 1043", {"record": "1043"})
    moved = type(sealed)(**{**sealed.__dict__, "context": {"record": "9999"}})
    with pytest.raises(KmsClientError) as err:
        vault.open(moved)
    assert err.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.code.startswith("KMS.")


def test_a_disabled_key_is_refused_with_its_code(kms_client, kms_key):
    vault = Vault(kms_client, kms_key(state="disabled").key_id)
    with pytest.raises(KmsClientError) as err:
        vault.seal(b"nope")
    assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION
    assert vault.retries == 0  # a refusal is an answer, not an outage


def test_records_of_a_rotated_key_still_open(kms_client, kms_key):
    key = kms_key(rotation=30)
    vault = Vault(kms_client, key.key_id)
    before = vault.seal(b"sealed under version 1")
    kms_client.call("RotateOnDemand", _key_id_request(key.key_id))
    after = vault.seal(b"sealed under version 2")
    assert vault.open(before) == b"sealed under version 1"
    assert vault.open(after) == b"sealed under version 2"


def _key_id_request(key_id: str):
    from gateway.grpc_api.gen.kms.v1 import kms_pb2

    return kms_pb2.KeyIdRequest(key_id=key_id)
