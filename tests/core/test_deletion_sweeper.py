"""The deletion sweeper: a key past its scheduled deletion date is destroyed on the token and forgotten."""

from __future__ import annotations

from gateway.core.ports.hsm import key_label
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import NOT_FOUND, expect_error, new_key

DAY = 86_400


def has_object(gateway, label: str) -> bool:
    return gateway.rt.executor.run_sync(lambda t: t.has_key(label))


def test_due_key_is_destroyed(gateway, kms, clock):
    doomed, kept, cancelled = new_key(kms), new_key(kms), new_key(kms)
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=doomed))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=doomed, pending_days=7))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=kept, pending_days=30))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=cancelled, pending_days=7))
    kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=cancelled))

    # Not yet due: nothing of ours goes.
    clock.advance(6 * DAY)
    deleted = gateway.call(gateway.rt.kms.delete_due_keys())
    assert not {doomed, kept, cancelled} & set(deleted)
    assert has_object(gateway, key_label(doomed, 1))

    clock.advance(DAY + 60)
    deleted = gateway.call(gateway.rt.kms.delete_due_keys())
    clock.reset()  # the project's token is valid in real time only
    assert doomed in deleted
    assert not {kept, cancelled} & set(deleted)

    listed = kms.ListKeys(pb.ListKeysRequest())
    assert doomed not in listed.keys
    assert {kept, cancelled} <= set(listed.keys)
    assert listed.total == 2
    expect_error(NOT_FOUND, "KMS.0207", kms.DescribeKey, pb.KeyIdRequest(key_id=doomed))
    expect_error(
        NOT_FOUND,
        "KMS.0207",
        kms.DecryptDataKey,
        pb.DecryptDataKeyRequest(key_id=doomed, cipher_text=dk.cipher_text, datakey_cipher_length=32),
    )
    assert not has_object(gateway, key_label(doomed, 1))
    assert has_object(gateway, key_label(kept, 1))
    assert gateway.rt.store.get_key_by_id(doomed) is None
    assert gateway.rt.store.key_versions(doomed) == []
    assert kms.GetUserInstances(pb.Empty()).instance_num == 2

    # A second sweep finds nothing more of ours.
    assert doomed not in gateway.call(gateway.rt.kms.delete_due_keys())


def test_alias_of_deleted_key_is_free(gateway, kms, clock):
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="recycled")).key_info.key_id
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    clock.advance(8 * DAY)
    gateway.call(gateway.rt.kms.delete_due_keys())
    clock.reset()
    again = kms.CreateKey(pb.CreateKeyRequest(key_alias="recycled")).key_info
    assert again.key_id != key_id and again.key_state == 2
