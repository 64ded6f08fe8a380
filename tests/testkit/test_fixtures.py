"""The plugin's fixtures used directly by this suite (the plugin is installed with the project), on
the default subprocess gateway: keys, callers, the clock reaching every timed rule, observations."""

from __future__ import annotations

import grpc
import pytest

from gateway.client import KmsClientError
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

DAY = 86_400


def test_kms_key_makes_every_kind(kms_key, kms_client) -> None:
    assert kms_key("RSA_2048").key_spec == "RSA_2048"
    assert kms_key("EC_P256").key_spec == "EC_P256"
    assert kms_key(state="disabled").key_state == 3
    assert kms_key(state="pending_deletion", pending_days=30).key_state == 4
    assert kms_key("AES_256", origin="external", state="pending_import").key_state == 5
    imported = kms_key(material=bytes(range(32)))
    assert (imported.origin, imported.key_state) == ("external", 2)
    assert kms_client.decrypt_data(kms_client.encrypt_data(imported.key_id, b"hi").cipher_text).plain_text == b"hi"
    rotating = kms_key(rotation=90, tags={"team": "payments"})
    status = kms_client.call("GetKeyRotationStatus", pb.KeyIdRequest(key_id=rotating.key_id))
    assert (status.key_rotation_enabled, status.rotation_interval) == (True, 90)
    tags = kms_client.call("ListKeyTags", pb.KeyIdRequest(key_id=rotating.key_id)).tags
    assert [(t.key, t.value) for t in tags] == [("team", "payments")]


def test_projects_are_isolated(kms_gateway, kms_key, kms_client) -> None:
    key = kms_key()
    other = kms_gateway.new_project().client()
    with pytest.raises(KmsClientError) as err:
        other.describe_key(key.key_id)
    assert (err.value.status, err.value.code) == (grpc.StatusCode.NOT_FOUND, "KMS.0207")


def test_a_token_expires_when_the_clock_passes_its_ttl(kms_gateway, kms_project, kms_clock) -> None:
    short = kms_gateway.client(token=kms_gateway.token(kms_project.project_id, ttl=60))
    assert short.generate_random(64).random_data
    kms_clock.advance(seconds=61)
    with pytest.raises(KmsClientError) as err:
        short.generate_random(64)
    assert err.value.status == grpc.StatusCode.UNAUTHENTICATED
    assert kms_project.client().generate_random(64).random_data  # the project's own token outlives clock travel


def test_scheduled_rotation_happens_when_the_clock_passes_its_interval(kms_key, kms_client, kms_clock) -> None:
    key = kms_key(rotation=30)
    assert key.key_id not in kms_clock.advance(days=29)["rotated"]
    assert key.key_id in kms_clock.advance(days=2)["rotated"]
    status = kms_client.call("GetKeyRotationStatus", pb.KeyIdRequest(key_id=key.key_id))
    assert status.number_of_rotations == 1


def test_an_import_token_expires_with_the_clock(kms_key, kms_client, kms_clock) -> None:
    key = kms_key(origin="external", state="pending_import")
    request = pb.GetParametersForImportRequest(key_id=key.key_id, wrapping_algorithm="RSAES_OAEP_SHA_1")
    params = kms_client.call("GetParametersForImport", request)
    kms_clock.advance(days=1, minutes=1)
    importing = pb.ImportKeyMaterialRequest(
        key_id=key.key_id, import_token=params.import_token, encrypted_key_material=b"\0" * 256
    )
    with pytest.raises(KmsClientError) as err:
        kms_client.call("ImportKeyMaterial", importing)
    assert err.value.code == "KMS.2601"  # the import token expired (24 h of the gateway's clock)


def test_sdk_signatures_stay_on_wall_time_while_the_clock_travels(kms_sdk, kms_clock) -> None:
    from huaweicloudsdkkms.v2.model import CreateKeyRequest, CreateKeyRequestBody

    kms_clock.advance(days=30)
    created = kms_sdk.create_key(CreateKeyRequest(body=CreateKeyRequestBody(key_alias="after-travel")))
    assert created.key_info.key_id


def test_an_hsm_outage_answers_the_real_codes_and_heals(kms_gateway, kms_key, kms_client, kms_rest, kms_faults) -> None:
    key = kms_key()
    with kms_faults.hsm_unavailable():
        with pytest.raises(KmsClientError) as err:
            kms_client.create_data_key(key.key_id)
        assert (err.value.status, err.value.code) == (grpc.StatusCode.INTERNAL, "KMS.0102")
        answer = kms_rest.post("create-datakey", json={"key_id": key.key_id, "datakey_length": "256"})
        assert (answer.status_code, answer.json()["error"]["error_code"]) == (500, "KMS.0102")
        assert not kms_gateway.healthy()
        assert kms_faults.state()["failed_jobs"] > 0
    assert kms_gateway.healthy()
    assert len(kms_client.create_data_key(key.key_id).plain_text) == 32


def test_audit_events_and_metrics(kms_gateway, kms_project, kms_client, kms_key) -> None:
    before = kms_gateway.metrics().value("kmsgw_request_seconds_count", op="create_datakey", transport="grpc")
    key = kms_key()
    kms_client.create_data_key(key.key_id)
    events = kms_gateway.audit_events(kms_project.project_id)
    assert [(e["op"], e["key_id"], e["result"]) for e in events][-1] == ("create_datakey", key.key_id, "OK")
    after = kms_gateway.metrics().value("kmsgw_request_seconds_count", op="create_datakey", transport="grpc")
    assert after == before + 1
