"""Key rotation: versions on the token, old ciphertexts keep decrypting, the scheduler, crash safety.

Everything runs against the session gateway (real SoftHSM2, real gRPC). Tokens here live long
because the scheduler tests move the gateway's clock by months.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from gateway.core import ciphertext as ct
from gateway.core.model import KeyRecord, KeyState
from gateway.core.ports.hsm import key_label
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, NOT_FOUND, PRECONDITION, caller_for, dek_plain, expect_error, list_objects

DAY = 86400
LONG_TTL = 10 * 365 * DAY


@pytest.fixture
def owner(gateway):
    project_id = uuid.uuid4().hex
    token = gateway.token(project_id, ttl=LONG_TTL)
    return caller_for(gateway, token), gateway.stub(token)


def new_key(kms) -> str:
    return kms.CreateKey(pb.CreateKeyRequest(key_alias=f"rot-{uuid.uuid4().hex[:12]}")).key_info.key_id


def labels(gateway, key_id: str) -> list[str]:
    return sorted(lbl for lbl in gateway.call(gateway.rt.kms.hsm.secret_key_labels()) if lbl.startswith(key_id))


def version_of(blob: bytes) -> int:
    return ct.HEADER.unpack_from(blob)[3]


def seal_everything(kms, key_id: str) -> dict[str, tuple[bytes, bytes]]:
    """One ciphertext of each kind under the key's current version: name -> (ciphertext, plaintext)."""
    ctx = {"purpose": "rotation"}
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context=ctx))
    dek = hashlib.sha256(dk.cipher_text).digest()
    enc = kms.EncryptDataKey(
        pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(dek), datakey_plain_length=32)
    )
    data = f"secret {uuid.uuid4()}".encode()
    ed = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=data))
    return {
        "create-datakey": (dk.cipher_text, dk.plain_text),
        "encrypt-datakey": (enc.cipher_text, dek),
        "data": (ed.cipher_text, data),
    }


def assert_opens(kms, key_id: str, sealed: dict[str, tuple[bytes, bytes]]) -> None:
    blob, dek = sealed["create-datakey"]
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(
            key_id=key_id, cipher_text=blob, datakey_cipher_length=32, encryption_context={"purpose": "rotation"}
        )
    )
    assert out.data_key == dek
    blob, dek = sealed["encrypt-datakey"]
    out = kms.DecryptDataKey(pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=blob, datakey_cipher_length=32))
    assert out.data_key == dek
    blob, data = sealed["data"]
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=blob)).plain_text == data


def test_rotate_twice_every_version_still_decrypts(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    assert labels(gateway, key_id) == [f"{key_id}:v1"]
    sealed = {1: seal_everything(kms, key_id)}

    for version in (2, 3):
        out = kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id))
        assert (out.key_id, out.key_version) == (key_id, version)
        sealed[version] = seal_everything(kms, key_id)

    # Each rotation made its own token object; none was replaced.
    assert labels(gateway, key_id) == [f"{key_id}:v1", f"{key_id}:v2", f"{key_id}:v3"]
    # New encryptions used the newest version at their time.
    for version, items in sealed.items():
        assert {version_of(blob) for blob, _ in items.values()} == {version}
    # Every older version keeps decrypting, for data keys and for encrypt-data alike.
    for items in sealed.values():
        assert_opens(kms, key_id, items)

    status = kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=key_id))
    assert (status.number_of_rotations, status.key_version, status.key_rotation_enabled) == (2, 3, False)
    assert status.last_rotation_time > 0
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_version == 3


def test_each_version_is_a_non_extractable_token_object(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id))
    objects = [o for o in list_objects(gateway.rt.config.data_dir) if o.get("label", "").startswith(key_id)]
    assert sorted(o["label"] for o in objects) == [f"{key_id}:v1", f"{key_id}:v2"]
    for obj in objects:
        assert obj["type"].startswith("Secret Key Object; AES length 32"), obj
        assert obj["Access"].startswith("sensitive, always sensitive, never extractable"), obj
        assert obj["ID"] == uuid.UUID(key_id).hex


def test_enable_disable_and_interval(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    req = pb.KeyIdRequest(key_id=key_id)
    status = kms.GetKeyRotationStatus(req)
    assert (status.key_rotation_enabled, status.rotation_interval, status.number_of_rotations) == (False, 365, 0)
    assert status.last_rotation_time == 0

    assert kms.EnableKeyRotation(req).key_rotation_enabled is True
    expect_error(PRECONDITION, "KMS.2901", kms.EnableKeyRotation, req)
    assert kms.DisableKeyRotation(req).key_rotation_enabled is False
    expect_error(PRECONDITION, "KMS.0313", kms.DisableKeyRotation, req)

    for bad in (0, 29, 366, -30):
        expect_error(
            INVALID,
            "KMS.3001",
            kms.UpdateKeyRotationInterval,
            pb.UpdateKeyRotationIntervalRequest(key_id=key_id, rotation_interval=bad),
        )
    for good in (30, 365, 90):
        out = kms.UpdateKeyRotationInterval(pb.UpdateKeyRotationIntervalRequest(key_id=key_id, rotation_interval=good))
        assert out.rotation_interval == good
    # The interval survives disabling and re-enabling.
    assert kms.EnableKeyRotation(req).rotation_interval == 90
    assert kms.GetKeyRotationStatus(req).rotation_interval == 90


def test_rotation_rules_by_key_state_and_owner(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    req = pb.KeyIdRequest(key_id=key_id)
    # Another project sees no such key.
    stranger = gateway.stub(gateway.token(uuid.uuid4().hex))
    for call in (stranger.RotateOnDemand, stranger.EnableKeyRotation, stranger.GetKeyRotationStatus):
        expect_error(NOT_FOUND, "KMS.0207", call, req)
    expect_error(INVALID, "KMS.0205", kms.RotateOnDemand, pb.KeyIdRequest(key_id="not-a-key"))

    kms.DisableKey(req)
    expect_error(PRECONDITION, "KMS.0209", kms.RotateOnDemand, req)
    expect_error(PRECONDITION, "KMS.0209", kms.EnableKeyRotation, req)
    kms.EnableKey(req)
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    expect_error(PRECONDITION, "KMS.0210", kms.RotateOnDemand, req)
    expect_error(PRECONDITION, "KMS.0210", kms.EnableKeyRotation, req)
    assert labels(gateway, key_id) == [f"{key_id}:v1"]


def _row(caller, **kw) -> KeyRecord:
    base = dict(
        key_id=str(uuid.uuid4()),
        project_id=caller.project_id,
        domain_id=caller.domain_id,
        key_alias=f"row-{uuid.uuid4().hex[:8]}",
        key_description="",
        key_spec="AES_256",
        key_usage="ENCRYPT_DECRYPT",
        origin="kms",
        key_state=KeyState.ENABLED,
        creation_date=1_700_000_000_000,
    )
    base.update(kw)
    return KeyRecord(**base)


def test_external_and_asymmetric_keys_cannot_rotate(gateway, owner):
    caller, kms = owner
    # Key import and asymmetric creation belong to other modules: store rows stand in for them.
    external = _row(caller, origin="external")
    rsa = _row(caller, key_spec="RSA_2048", key_usage="SIGN_VERIFY")
    for rec in (external, rsa):
        gateway.rt.store.insert_key(rec)
    for call in (kms.RotateOnDemand, kms.EnableKeyRotation, kms.DisableKeyRotation):
        expect_error(INVALID, "KMS.0312", call, pb.KeyIdRequest(key_id=external.key_id))
        expect_error(INVALID, "KMS.0308", call, pb.KeyIdRequest(key_id=rsa.key_id))
    expect_error(
        INVALID,
        "KMS.0312",
        kms.UpdateKeyRotationInterval,
        pb.UpdateKeyRotationIntervalRequest(key_id=external.key_id, rotation_interval=30),
    )
    # Their status reads fine: rotation off, never rotated.
    status = kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=external.key_id))
    assert (status.key_rotation_enabled, status.number_of_rotations) == (False, 0)
    # The scheduler skips them even with a rotation row present.
    gateway.rt.store.put_rotation(external.key_id, enabled=True, interval_days=30, base_at=0)
    assert external.key_id not in gateway.call(gateway.rt.kms.rotate_due_keys())
    assert gateway.rt.store.get_key_by_id(external.key_id).current_version == 1


def test_scheduler_rotates_due_keys(gateway, owner, clock):
    _, kms = owner
    due, later, off = new_key(kms), new_key(kms), new_key(kms)
    kms.EnableKeyRotation(pb.KeyIdRequest(key_id=due))
    kms.UpdateKeyRotationInterval(pb.UpdateKeyRotationIntervalRequest(key_id=due, rotation_interval=30))
    kms.EnableKeyRotation(pb.KeyIdRequest(key_id=later))
    kms.UpdateKeyRotationInterval(pb.UpdateKeyRotationIntervalRequest(key_id=later, rotation_interval=60))
    old = seal_everything(kms, due)

    clock.advance(29 * DAY)
    rotated = gateway.call(gateway.rt.kms.rotate_due_keys())
    assert not {due, later, off} & set(rotated)

    clock.advance(2 * DAY)  # day 31: only the 30-day key is due
    rotated = gateway.call(gateway.rt.kms.rotate_due_keys())
    assert due in rotated and later not in rotated and off not in rotated
    assert labels(gateway, due) == [f"{due}:v1", f"{due}:v2"]
    assert labels(gateway, off) == [f"{off}:v1"]
    status = kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=due))
    assert (status.number_of_rotations, status.key_version) == (1, 2)
    assert status.last_rotation_time >= int(clock.now() * 1000) - 60_000
    # Running again at once rotates nothing more: the interval counts from the last rotation.
    assert due not in gateway.call(gateway.rt.kms.rotate_due_keys())

    clock.advance(30 * DAY)  # day 61: both due
    rotated = gateway.call(gateway.rt.kms.rotate_due_keys())
    assert {due, later} <= set(rotated)
    assert kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=due)).key_version == 3
    assert kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=later)).key_version == 2
    assert version_of(seal_everything(kms, due)["data"][0]) == 3
    assert_opens(kms, due, old)


def test_scheduler_waits_for_a_disabled_key(gateway, owner, clock):
    _, kms = owner
    key_id = new_key(kms)
    req = pb.KeyIdRequest(key_id=key_id)
    kms.EnableKeyRotation(req)
    kms.UpdateKeyRotationInterval(pb.UpdateKeyRotationIntervalRequest(key_id=key_id, rotation_interval=30))
    kms.DisableKey(req)
    clock.advance(31 * DAY)
    assert key_id not in gateway.call(gateway.rt.kms.rotate_due_keys())
    kms.EnableKey(req)
    assert key_id in gateway.call(gateway.rt.kms.rotate_due_keys())
    # Disabling rotation stops the schedule.
    kms.DisableKeyRotation(req)
    clock.advance(400 * DAY)
    assert key_id not in gateway.call(gateway.rt.kms.rotate_due_keys())
    assert kms.GetKeyRotationStatus(req).key_version == 2


def test_on_demand_rotation_resets_the_schedule(gateway, owner, clock):
    _, kms = owner
    key_id = new_key(kms)
    kms.EnableKeyRotation(pb.KeyIdRequest(key_id=key_id))
    kms.UpdateKeyRotationInterval(pb.UpdateKeyRotationIntervalRequest(key_id=key_id, rotation_interval=30))
    clock.advance(20 * DAY)
    kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id))
    clock.advance(20 * DAY)  # 40 days after enabling, 20 after the last rotation
    assert key_id not in gateway.call(gateway.rt.kms.rotate_due_keys())
    clock.advance(11 * DAY)
    assert key_id in gateway.call(gateway.rt.kms.rotate_due_keys())


def test_concurrent_rotations_make_distinct_versions(gateway, owner):
    import asyncio

    caller, kms = owner
    key_id = new_key(kms)

    async def both():
        return await asyncio.gather(
            gateway.rt.kms.rotate_on_demand(caller, key_id), gateway.rt.kms.rotate_on_demand(caller, key_id)
        )

    first, second = gateway.call(both())
    assert {first.current_version, second.current_version} == {2, 3}
    assert labels(gateway, key_id) == [f"{key_id}:v{i}" for i in (1, 2, 3)]


# -- crash safety ------------------------------------------------------------------------
def make_object(gateway, key_id: str, version: int) -> None:
    gateway.rt.executor.run_sync(lambda t: t.generate_aes_key(key_label(key_id, version), key_id))


def test_crash_after_generate_is_finished_by_reconcile(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    store = gateway.rt.store
    # The state a crash leaves between the token write and the final commit.
    assert store.begin_key_version(key_id, 2, 1_700_000_000_000)
    make_object(gateway, key_id, 2)
    # Until then version 2 is invisible: encryptions stay on v1.
    assert version_of(kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"x")).cipher_text) == 1
    report = gateway.call(gateway.rt.kms.reconcile())
    assert key_label(key_id, 2) in report.finished_versions
    assert key_label(key_id, 2) not in report.destroyed_orphans
    status = kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=key_id))
    assert (status.key_version, status.number_of_rotations) == (2, 1)
    blob = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"y")).cipher_text
    assert version_of(blob) == 2
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=blob)).plain_text == b"y"


def test_crash_before_generate_is_rolled_back_by_reconcile(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    assert gateway.rt.store.begin_key_version(key_id, 2, 1_700_000_000_000)
    report = gateway.call(gateway.rt.kms.reconcile())
    assert key_label(key_id, 2) in report.removed_versions
    assert gateway.rt.store.key_versions(key_id) == [1]
    assert kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=key_id)).key_version == 1
    # The version number is free again and the next rotation takes it.
    assert kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id)).key_version == 2
    assert labels(gateway, key_id) == [f"{key_id}:v1", f"{key_id}:v2"]


def test_stray_version_object_is_destroyed_and_never_collides(gateway, owner, clock):
    _, kms = owner
    key_id, other = new_key(kms), new_key(kms)
    # An object the store never recorded (its row was dropped): reconcile reports it, then removes
    # it once the orphan grace period has passed...
    make_object(gateway, key_id, 2)
    assert key_label(key_id, 2) in gateway.call(gateway.rt.kms.reconcile()).orphans
    clock.advance(gateway.rt.config.orphan_grace_seconds + 1)
    report = gateway.call(gateway.rt.kms.reconcile())
    clock.reset()
    assert key_label(key_id, 2) in report.destroyed_orphans
    assert labels(gateway, key_id) == [f"{key_id}:v1"]
    # ...and a rotation meeting one before any reconcile replaces it rather than duplicating the label.
    make_object(gateway, other, 2)
    assert kms.RotateOnDemand(pb.KeyIdRequest(key_id=other)).key_version == 2
    assert labels(gateway, other) == [f"{other}:v1", f"{other}:v2"]
    sealed = seal_everything(kms, other)
    assert_opens(kms, other, sealed)


def test_rotation_racing_another_process_is_refused(gateway, owner):
    _, kms = owner
    key_id = new_key(kms)
    # Another process holds the pending row for v2 (its rotation is in flight).
    assert gateway.rt.store.begin_key_version(key_id, 2, 1_700_000_000_000)
    err = expect_error(PRECONDITION, "KMS.0308", kms.RotateOnDemand, pb.KeyIdRequest(key_id=key_id))
    assert "retry" in err.details()
    assert labels(gateway, key_id) == [f"{key_id}:v1"]
    gateway.rt.store.drop_key_version(key_id, 2)
    assert kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id)).key_version == 2


def test_deleting_a_rotated_key_destroys_every_version(gateway, owner, clock):
    _, kms = owner
    key_id = new_key(kms)
    kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id))
    kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    clock.advance(8 * DAY)
    assert key_id in gateway.call(gateway.rt.kms.delete_due_keys())
    assert labels(gateway, key_id) == []
    assert gateway.rt.store.get_rotation(key_id) is None
