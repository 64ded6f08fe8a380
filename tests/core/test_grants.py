"""Grants: a second project's principal uses exactly the granted operations on a key, until revoked.

Real gRPC calls from separate tokens (separate projects, users, domains) against the session
gateway; nothing is mocked and nothing is cached, so a revocation shows on the next call.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.core.service import Kms
from gateway.core.settings import Settings
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, NOT_FOUND, caller_for, dek_plain, expect_error

DENIED = grpc.StatusCode.PERMISSION_DENIED
ALL_DATA_OPS = ["create-datakey", "decrypt-datakey", "encrypt-data", "decrypt-data", "describe-key"]


@dataclass
class Party:
    caller: Caller
    kms: Any

    @property
    def user(self) -> str:
        return self.caller.user_id

    @property
    def domain(self) -> str:
        return self.caller.domain_id


def party(gateway, project_id: str | None = None, user_id: str | None = None) -> Party:
    token = gateway.token(project_id or uuid.uuid4().hex, user_id=user_id or uuid.uuid4().hex)
    return Party(caller_for(gateway, token), gateway.stub(token))


@pytest.fixture
def owner(gateway) -> Party:
    return party(gateway)


@pytest.fixture
def grantee(gateway) -> Party:
    return party(gateway)


@pytest.fixture
def key(owner) -> str:
    return owner.kms.CreateKey(pb.CreateKeyRequest(key_alias=f"g-{uuid.uuid4().hex[:12]}")).key_info.key_id


def grant(owner: Party, key_id: str, principal: str, ops: list[str], **kw) -> str:
    req = pb.CreateGrantRequest(key_id=key_id, grantee_principal=principal, operations=ops, **kw)
    grant_id = owner.kms.CreateGrant(req).grant_id
    assert len(grant_id) == 64 and int(grant_id, 16) >= 0
    return grant_id


def test_grantee_uses_exactly_the_granted_operations(gateway, owner, grantee, key):
    # Before any grant the key does not exist for the other project.
    expect_error(NOT_FOUND, "KMS.0207", grantee.kms.DescribeKey, pb.KeyIdRequest(key_id=key))
    expect_error(NOT_FOUND, "KMS.0207", grantee.kms.CreateDataKey, pb.CreateDataKeyRequest(key_id=key))

    grant(owner, key, grantee.user, ALL_DATA_OPS)

    # Granted: data keys, data, describe.
    assert grantee.kms.DescribeKey(pb.KeyIdRequest(key_id=key)).key_info.key_id == key
    dk = grantee.kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key, encryption_context={"app": "b"}))
    out = grantee.kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(
            key_id=key, cipher_text=dk.cipher_text, datakey_cipher_length=32, encryption_context={"app": "b"}
        )
    )
    assert out.data_key == dk.plain_text
    ed = grantee.kms.EncryptData(pb.EncryptDataRequest(key_id=key, plain_text=b"from b"))
    assert grantee.kms.DecryptData(pb.DecryptDataRequest(cipher_text=ed.cipher_text)).plain_text == b"from b"
    # The owner and the grantee read each other's ciphertexts: same key.
    assert owner.kms.DecryptData(pb.DecryptDataRequest(cipher_text=ed.cipher_text)).plain_text == b"from b"

    # Not granted: every other operation on the key is refused with 403 / KMS.0306.
    dek = hashlib.sha256(b"dek").digest()
    refused = [
        (grantee.kms.CreateDataKeyWithoutPlaintext, pb.CreateDataKeyRequest(key_id=key)),
        (
            grantee.kms.EncryptDataKey,
            pb.EncryptDataKeyRequest(key_id=key, plain_text=dek_plain(dek), datakey_plain_length=32),
        ),
        (grantee.kms.DisableKey, pb.KeyIdRequest(key_id=key)),
        (grantee.kms.ScheduleKeyDeletion, pb.ScheduleKeyDeletionRequest(key_id=key, pending_days=7)),
        (grantee.kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key, key_alias="stolen")),
        (grantee.kms.UpdateKeyDescription, pb.UpdateKeyDescriptionRequest(key_id=key, key_description="x")),
        (grantee.kms.ListGrants, pb.ListGrantsRequest(key_id=key)),
        (grantee.kms.RotateOnDemand, pb.KeyIdRequest(key_id=key)),
        (grantee.kms.EnableKeyRotation, pb.KeyIdRequest(key_id=key)),
        (grantee.kms.ListKeyTags, pb.KeyIdRequest(key_id=key)),
        (grantee.kms.CreateKeyTag, pb.CreateKeyTagRequest(key_id=key, tag=pb.TagItem(key="a", value="b"))),
        (
            grantee.kms.CreateGrant,
            pb.CreateGrantRequest(key_id=key, grantee_principal="x", operations=["encrypt-data"]),
        ),
    ]
    for call, req in refused:
        expect_error(DENIED, "KMS.0306", call, req)
    # The batch path applies the same rule per item.
    res = grantee.kms.BatchEncryptDataKey(
        pb.BatchEncryptDataKeyRequest(
            items=[pb.EncryptDataKeyRequest(key_id=key, plain_text=dek_plain(dek), datakey_plain_length=32)]
        )
    )
    assert res.results[0].error.error_code == "KMS.0306"
    # The key is not the grantee's: it does not appear in its list or count.
    assert key not in grantee.kms.ListKeys(pb.ListKeysRequest()).keys
    assert owner.kms.DescribeKey(pb.KeyIdRequest(key_id=key)).key_info.key_state == 2


def test_revocation_is_effective_on_the_next_request(gateway, owner, grantee, key):
    grant_id = grant(owner, key, grantee.user, ["encrypt-data", "decrypt-data"])
    blob = grantee.kms.EncryptData(pb.EncryptDataRequest(key_id=key, plain_text=b"1")).cipher_text
    owner.kms.RevokeGrant(pb.GrantIdRequest(key_id=key, grant_id=grant_id))
    expect_error(NOT_FOUND, "KMS.0207", grantee.kms.EncryptData, pb.EncryptDataRequest(key_id=key, plain_text=b"2"))
    expect_error(NOT_FOUND, "KMS.0207", grantee.kms.DecryptData, pb.DecryptDataRequest(cipher_text=blob))
    assert owner.kms.ListGrants(pb.ListGrantsRequest(key_id=key)).total == 0
    expect_error(NOT_FOUND, "KMS.2501", owner.kms.RevokeGrant, pb.GrantIdRequest(key_id=key, grant_id=grant_id))


def test_a_disabled_key_stays_disabled_for_grantees(gateway, owner, grantee, key):
    grant(owner, key, grantee.user, ["encrypt-data"])
    owner.kms.DisableKey(pb.KeyIdRequest(key_id=key))
    expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        "KMS.0209",
        grantee.kms.EncryptData,
        pb.EncryptDataRequest(key_id=key, plain_text=b"x"),
    )


def test_domain_grant_covers_every_user_of_the_domain(gateway, owner, key):
    first = party(gateway)
    other_domain = party(gateway, user_id=uuid.uuid4().hex)
    # A second project in the first one's domain (a sibling project of the same account).
    sibling_token = gateway.token(uuid.uuid4().hex, domain_id=first.domain, user_id=uuid.uuid4().hex)
    sibling = Party(caller_for(gateway, sibling_token), gateway.stub(sibling_token))
    assert sibling.domain == first.domain and other_domain.domain != first.domain

    grant(owner, key, first.domain, ["describe-key"], grantee_principal_type="domain")
    for p in (first, sibling):
        assert p.kms.DescribeKey(pb.KeyIdRequest(key_id=key)).key_info.key_id == key
    expect_error(NOT_FOUND, "KMS.0207", other_domain.kms.DescribeKey, pb.KeyIdRequest(key_id=key))
    # A user grant naming a domain id (or a domain grant naming a user id) matches nothing.
    key2 = owner.kms.CreateKey(pb.CreateKeyRequest(key_alias=f"g2-{uuid.uuid4().hex[:8]}")).key_info.key_id
    grant(owner, key2, first.domain, ["describe-key"], grantee_principal_type="user")
    grant(owner, key2, first.user, ["describe-key"], grantee_principal_type="domain")
    expect_error(NOT_FOUND, "KMS.0207", first.kms.DescribeKey, pb.KeyIdRequest(key_id=key2))


def test_retire_by_retiring_principal_or_grantee(gateway, owner, grantee, key):
    retirer, stranger = party(gateway), party(gateway)
    g1 = grant(owner, key, grantee.user, ["describe-key"], retiring_principal=retirer.user, name="by-retirer")
    g2 = grant(owner, key, grantee.user, ["encrypt-data"], name="by-grantee")

    listed = retirer.kms.ListRetirableGrants(pb.ListRetirableGrantsRequest())
    assert [g.grant_id for g in listed.grants] == [g1] and listed.total == 1
    assert grantee.kms.ListRetirableGrants(pb.ListRetirableGrantsRequest()).total == 0

    # A stranger cannot see or retire either grant; a wrong key id is KMS.2502.
    expect_error(NOT_FOUND, "KMS.2501", stranger.kms.RetireGrant, pb.GrantIdRequest(key_id=key, grant_id=g1))
    other_key = owner.kms.CreateKey(pb.CreateKeyRequest(key_alias=f"o-{uuid.uuid4().hex[:8]}")).key_info.key_id
    expect_error(INVALID, "KMS.2502", retirer.kms.RetireGrant, pb.GrantIdRequest(key_id=other_key, grant_id=g1))
    expect_error(INVALID, "KMS.2502", owner.kms.RevokeGrant, pb.GrantIdRequest(key_id=other_key, grant_id=g1))
    expect_error(INVALID, "KMS.0205", retirer.kms.RetireGrant, pb.GrantIdRequest(key_id="nope", grant_id=g1))
    expect_error(NOT_FOUND, "KMS.2501", retirer.kms.RetireGrant, pb.GrantIdRequest(key_id=key, grant_id="zz"))

    retirer.kms.RetireGrant(pb.GrantIdRequest(key_id=key, grant_id=g1))
    expect_error(NOT_FOUND, "KMS.2501", retirer.kms.RetireGrant, pb.GrantIdRequest(key_id=key, grant_id=g1))
    # The grantee still holds g2 (encrypt-data only), so describe is now refused, not hidden.
    expect_error(DENIED, "KMS.0306", grantee.kms.DescribeKey, pb.KeyIdRequest(key_id=key))
    grantee.kms.RetireGrant(pb.GrantIdRequest(key_id=key, grant_id=g2))
    expect_error(NOT_FOUND, "KMS.0207", grantee.kms.EncryptData, pb.EncryptDataRequest(key_id=key, plain_text=b"x"))
    assert owner.kms.ListGrants(pb.ListGrantsRequest(key_id=key)).total == 0


def test_only_the_owner_revokes(gateway, owner, grantee, key):
    g = grant(owner, key, grantee.user, ["describe-key"])
    expect_error(DENIED, "KMS.0306", grantee.kms.RevokeGrant, pb.GrantIdRequest(key_id=key, grant_id=g))
    expect_error(NOT_FOUND, "KMS.0207", party(gateway).kms.RevokeGrant, pb.GrantIdRequest(key_id=key, grant_id=g))
    owner.kms.RevokeGrant(pb.GrantIdRequest(key_id=key, grant_id=g))


def test_grantee_regrants_only_what_it_holds(gateway, owner, grantee, key):
    third = party(gateway)
    grant(owner, key, grantee.user, ["create-grant", "describe-key", "encrypt-data"])
    expect_error(
        DENIED,
        "KMS.0306",
        grantee.kms.CreateGrant,
        pb.CreateGrantRequest(key_id=key, grantee_principal=third.user, operations=["decrypt-data"]),
    )
    g = grant(grantee, key, third.user, ["describe-key"])
    assert third.kms.DescribeKey(pb.KeyIdRequest(key_id=key)).key_info.key_id == key
    listed = {x.grant_id: x for x in owner.kms.ListGrants(pb.ListGrantsRequest(key_id=key)).grants}
    assert listed[g].issuing_principal == grantee.user
    assert listed[g].grantee_principal == third.user


def test_create_grant_validation(gateway, owner, key):
    def create(**kw):
        base = {"key_id": key, "grantee_principal": "abc123", "operations": ["describe-key"]}
        base.update(kw)
        return pb.CreateGrantRequest(**base)

    expect_error(INVALID, "KMS.2401", owner.kms.CreateGrant, create(operations=["create-grant"]))
    expect_error(INVALID, "KMS.0308", owner.kms.CreateGrant, create(operations=[]))
    expect_error(INVALID, "KMS.0308", owner.kms.CreateGrant, create(operations=["disable-key"]))
    expect_error(INVALID, "KMS.2402", owner.kms.CreateGrant, create(grantee_principal=""))
    expect_error(INVALID, "KMS.2402", owner.kms.CreateGrant, create(grantee_principal="bad-id!"))
    expect_error(INVALID, "KMS.2402", owner.kms.CreateGrant, create(grantee_principal="a" * 65))
    expect_error(INVALID, "KMS.2402", owner.kms.CreateGrant, create(retiring_principal="x y"))
    expect_error(INVALID, "KMS.2402", owner.kms.CreateGrant, create(grantee_principal_type="group"))
    expect_error(INVALID, "KMS.0308", owner.kms.CreateGrant, create(name="bad name"))
    expect_error(INVALID, "KMS.0205", owner.kms.CreateGrant, create(key_id="x"))
    expect_error(INVALID, "KMS.0206", owner.kms.CreateGrant, create(sequence="short"))
    expect_error(NOT_FOUND, "KMS.0207", owner.kms.CreateGrant, create(key_id=str(uuid.uuid4())))
    # Duplicates collapse; create-grant alongside another operation is fine.
    g = grant(owner, key, "abc123", ["describe-key", "describe-key", "create-grant"], name="ok:name/1_-")
    [listed] = owner.kms.ListGrants(pb.ListGrantsRequest(key_id=key)).grants
    assert listed.grant_id == g
    assert list(listed.operations) == ["describe-key", "create-grant"]
    assert (listed.name, listed.grantee_principal_type, listed.issuing_principal) == (
        "ok:name/1_-",
        "user",
        owner.user,
    )
    assert listed.creation_date > 0
    owner.kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key, pending_days=7))
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, "KMS.0210", owner.kms.CreateGrant, create())


def test_list_grants_pages(gateway, owner, key):
    made = [grant(owner, key, f"user{i}", ["describe-key"]) for i in range(5)]
    seen, marker = [], ""
    while True:
        page = owner.kms.ListGrants(pb.ListGrantsRequest(key_id=key, limit=2, marker=marker))
        assert page.total == 5
        seen += [g.grant_id for g in page.grants]
        if not page.truncated:
            assert page.next_marker == ""
            break
        marker = page.next_marker
    assert seen == made
    expect_error(INVALID, "KMS.1601", owner.kms.ListGrants, pb.ListGrantsRequest(key_id=key, limit=-1))
    expect_error(INVALID, "KMS.1601", owner.kms.ListGrants, pb.ListGrantsRequest(key_id=key, limit=1001))
    expect_error(INVALID, "KMS.1602", owner.kms.ListGrants, pb.ListGrantsRequest(key_id=key, marker="-1"))
    expect_error(INVALID, "KMS.1602", owner.kms.ListGrants, pb.ListGrantsRequest(key_id=key, marker="abc"))


def test_grant_quota_per_key(gateway, owner, clock):
    # The session gateway's quota is the default 100; a dedicated core over the same store and
    # token shows the limit without creating a hundred grants.
    small = Kms(gateway.rt.store, gateway.rt.kms.hsm, clock, Settings(grant_per_cmk_quota=2))
    key_id = gateway.call(small.create_key(owner.caller, key_alias=f"q-{uuid.uuid4().hex[:8]}")).key_id
    for i in range(2):
        small.create_grant(owner.caller, key_id, grantee_principal=f"u{i}", operations=["describe-key"])
    with pytest.raises(KmsError) as info:
        small.create_grant(owner.caller, key_id, grantee_principal="u9", operations=["describe-key"])
    assert info.value.err is Err.GRANT_QUOTA_PER_KEY
    assert gateway.rt.dialect.render(info.value).code == "KMS.2404"
    # Revoking one frees a slot.
    first = small.list_grants(owner.caller, key_id).grants[0]
    small.revoke_grant(owner.caller, key_id, first.grant_id)
    small.create_grant(owner.caller, key_id, grantee_principal="u9", operations=["describe-key"])
    # Over gRPC the per-key quota is the gateway's configured one.
    assert len(owner.kms.ListGrants(pb.ListGrantsRequest(key_id=key_id)).grants) == 2


def test_grants_die_with_their_key(gateway, owner, grantee, key, clock):
    g = grant(owner, key, grantee.user, ["describe-key"], retiring_principal=grantee.user)
    owner.kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key, pending_days=7))
    clock.advance(8 * 86400)
    assert key in gateway.call(gateway.rt.kms.delete_due_keys())
    clock.reset()
    assert gateway.rt.store.get_grant(g) is None
    assert grantee.kms.ListRetirableGrants(pb.ListRetirableGrantsRequest()).total == 0
