"""user-instances and user-quotas reflect the store; the CMK quota is enforced at create-key.

The session gateway runs with a huge CMK quota so other tests never meet it; the limit itself is
shown through a dedicated core (``Kms`` over the same store, token and clock) with a small one.
"""

from __future__ import annotations

import uuid

import pytest

from gateway.core.errors import Err, KmsError
from gateway.core.service import Kms
from gateway.core.settings import Settings
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import caller_for, default_key


def quotas(kms) -> dict[str, tuple[int, int]]:
    return {r.type: (r.used, r.quota) for r in kms.GetUserQuotas(pb.Empty()).resources}


def new_key(kms) -> str:
    return kms.CreateKey(pb.CreateKeyRequest(key_alias=f"q-{uuid.uuid4().hex[:12]}")).key_info.key_id


def test_counts_follow_the_project(gateway, project, kms):
    project_id, _ = project
    assert kms.GetUserInstances(pb.Empty()).instance_num == 0
    assert quotas(kms) == {"CMK": (0, 100_000), "grant_per_CMK": (0, 100)}
    keys = [new_key(kms) for _ in range(3)]
    default_key(gateway, gateway.token(project_id), f"svc{uuid.uuid4().hex[:6]}/default")
    # Default (service) keys are not customer master keys: not counted.
    assert kms.GetUserInstances(pb.Empty()).instance_num == 3
    assert quotas(kms)["CMK"] == (3, 100_000)
    # A key pending deletion still exists (and can be cancelled), so it still counts.
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=keys[0], pending_days=7))
    assert kms.GetUserInstances(pb.Empty()).instance_num == 3
    # Another project's keys are not ours.
    other = gateway.stub(gateway.token(uuid.uuid4().hex))
    assert other.GetUserInstances(pb.Empty()).instance_num == 0


def test_grant_per_cmk_used_is_the_fullest_key(gateway, kms):
    a, b, _ = new_key(kms), new_key(kms), new_key(kms)
    for i in range(3):
        kms.CreateGrant(pb.CreateGrantRequest(key_id=a, grantee_principal=f"u{i}", operations=["describe-key"]))
    kms.CreateGrant(pb.CreateGrantRequest(key_id=b, grantee_principal="u9", operations=["describe-key"]))
    assert quotas(kms)["grant_per_CMK"] == (3, 100)
    first = kms.ListGrants(pb.ListGrantsRequest(key_id=a)).grants[0].grant_id
    kms.RevokeGrant(pb.GrantIdRequest(key_id=a, grant_id=first))
    assert quotas(kms)["grant_per_CMK"] == (2, 100)


def test_cmk_quota_is_enforced_at_create_key(gateway, clock):
    small = Kms(gateway.rt.store, gateway.rt.kms.hsm, clock, Settings(cmk_quota=2))
    project_id = uuid.uuid4().hex
    token = gateway.token(project_id, ttl=30 * 86400)
    caller = caller_for(gateway, token)
    made = [gateway.call(small.create_key(caller, key_alias=f"q{i}")) for i in range(2)]
    with pytest.raises(KmsError) as info:
        gateway.call(small.create_key(caller, key_alias="q2"))
    assert info.value.err is Err.KEY_QUOTA_EXCEEDED
    wire = gateway.rt.dialect.render(info.value)
    assert (wire.status, wire.code) == (400, "KMS.1105")
    assert {q.type: (q.used, q.quota) for q in small.get_user_quotas(caller)}["CMK"] == (2, 2)
    # Nothing half-made is left behind by the refusal.
    assert small.get_user_instances(caller) == 2
    # Default keys are outside the quota: a service can still get one.
    gateway.call(small.create_key(caller, key_alias="svc/default", default_key=True))
    # The quota is per project.
    other = caller_for(gateway, gateway.token(uuid.uuid4().hex))
    gateway.call(small.create_key(other, key_alias="elsewhere"))
    # A destroyed key frees its slot.
    small.schedule_key_deletion(caller, made[0].key_id, 7)
    clock.advance(8 * 86400)
    assert made[0].key_id in gateway.call(small.delete_due_keys())
    gateway.call(small.create_key(caller, key_alias="q2"))
    assert small.get_user_instances(caller) == 2
