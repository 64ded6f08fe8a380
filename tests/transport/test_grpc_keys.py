"""Key lifecycle over gRPC: every RPC on its happy path and on each documented error."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from gateway.core.errors import Err, KmsError
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, NOT_FOUND, PRECONDITION, alias, default_key, expect_error, new_key

SEQ = str(uuid.uuid4())  # a well-formed 36-character sequence


# -- CreateKey --------------------------------------------------------------------------
def test_create_key_defaults(kms):
    name = alias()
    before = int(time.time() * 1000)
    info = kms.CreateKey(pb.CreateKeyRequest(key_alias=name, key_description="first key", sequence=SEQ)).key_info
    assert uuid.UUID(info.key_id).hex == info.key_id.replace("-", "")
    assert info.key_id == info.key_id.lower()
    assert info.key_alias == name
    assert info.key_description == "first key"
    assert (info.key_spec, info.key_usage, info.origin) == ("AES_256", "ENCRYPT_DECRYPT", "kms")
    assert (info.key_state, info.key_type, info.default_key_flag, info.key_version) == (2, 1, 0, 1)
    assert info.domain_id
    assert before - 5000 <= info.creation_date <= int(time.time() * 1000) + 5000
    assert info.scheduled_deletion_date == 0


@pytest.mark.parametrize(
    "bad",
    ["", "has space", "x" * 256, "bad*char", "é", "svc/default", "a/b/default", "/default"],
)
def test_create_key_bad_alias(kms, bad):
    expect_error(INVALID, "KMS.1101", kms.CreateKey, pb.CreateKeyRequest(key_alias=bad))


def test_create_key_alias_edges_accepted(kms):
    long_alias = "a" * 255
    assert kms.CreateKey(pb.CreateKeyRequest(key_alias=long_alias)).key_info.key_alias == long_alias
    odd = f"ns:/_-{uuid.uuid4().hex[:6]}/defaults"  # only the exact /default suffix is reserved
    assert kms.CreateKey(pb.CreateKeyRequest(key_alias=odd)).key_info.key_alias == odd


def test_create_key_duplicate_alias(gateway, kms):
    name = alias()
    new_key(kms, key_alias=name)
    expect_error(INVALID, "KMS.1104", kms.CreateKey, pb.CreateKeyRequest(key_alias=name))
    # Aliases are per project: another project may use the same one.
    other = gateway.stub(gateway.token())
    assert other.CreateKey(pb.CreateKeyRequest(key_alias=name)).key_info.key_alias == name


def test_create_key_description_rules(kms):
    ok = kms.CreateKey(pb.CreateKeyRequest(key_alias=alias(), key_description="d" * 255)).key_info
    assert len(ok.key_description) == 255
    expect_error(INVALID, "KMS.1103", kms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), key_description="d" * 256))


def test_create_key_unsupported_spec(kms):
    expect_error(INVALID, "KMS.0308", kms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), key_spec="DES"))


@pytest.mark.parametrize("spec", ["é", "AES\n256", "AES\x00", "\x7f", "x" * 20_000])
def test_error_echoing_odd_input_keeps_its_code(kms, spec):
    """An error message that quotes the request must still reach the client with its KMS code."""
    err = expect_error(INVALID, "KMS.0308", kms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), key_spec=spec))
    msg = dict(err.trailing_metadata())["kms-error-msg"]
    assert msg and msg.isascii() and len(msg) <= 512


# -- DescribeKey ------------------------------------------------------------------------
def test_describe_key(kms, key_id):
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert info.key_id == key_id and info.key_state == 2


@pytest.mark.parametrize(
    "bad",
    ["", "not-a-uuid", str(uuid.uuid4()).upper(), uuid.uuid4().hex, str(uuid.uuid4()) + "0"],
    ids=["empty", "not-a-uuid", "upper-case", "no-dashes", "37-chars"],
)
def test_describe_key_malformed_id(kms, bad):
    expect_error(INVALID, "KMS.0205", kms.DescribeKey, pb.KeyIdRequest(key_id=bad))


def test_describe_key_unknown(kms):
    expect_error(NOT_FOUND, "KMS.0207", kms.DescribeKey, pb.KeyIdRequest(key_id=str(uuid.uuid4())))


# -- ListKeys ---------------------------------------------------------------------------
def test_list_keys_paging(kms):
    ids = [new_key(kms) for _ in range(5)]
    everything = kms.ListKeys(pb.ListKeysRequest())
    # Oldest first; keys made in the same millisecond tie-break by key id.
    assert sorted(everything.keys) == sorted(ids)
    dates = [d.creation_date for d in everything.key_details]
    assert dates == sorted(dates)
    assert [d.key_id for d in everything.key_details] == list(everything.keys)
    assert (everything.total, everything.truncated, everything.next_marker) == (5, False, "")

    seen, marker, pages = [], "", 0
    while True:
        page = kms.ListKeys(pb.ListKeysRequest(limit=2, marker=marker))
        pages += 1
        assert page.total == 5
        seen += list(page.keys)
        if not page.truncated:
            assert page.next_marker == ""
            break
        assert page.next_marker
        marker = page.next_marker
    assert seen == list(everything.keys) and pages == 3


def test_list_keys_by_state(kms):
    ids = [new_key(kms) for _ in range(3)]
    kms.DisableKey(pb.KeyIdRequest(key_id=ids[1]))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=ids[2], pending_days=7))
    assert list(kms.ListKeys(pb.ListKeysRequest(key_state=2)).keys) == [ids[0]]
    assert list(kms.ListKeys(pb.ListKeysRequest(key_state=3)).keys) == [ids[1]]
    page = kms.ListKeys(pb.ListKeysRequest(key_state=4))
    assert list(page.keys) == [ids[2]] and page.total == 1
    assert page.key_details[0].scheduled_deletion_date > 0


@pytest.mark.parametrize("limit", [-1, 1001, 100000])
def test_list_keys_bad_limit(kms, limit):
    expect_error(INVALID, "KMS.1601", kms.ListKeys, pb.ListKeysRequest(limit=limit))


@pytest.mark.parametrize("marker", ["abc", "-1", "1.5", " 1", "²", "١٢", "9" * 19, "9" * 40])
def test_list_keys_bad_marker(kms, marker):
    expect_error(INVALID, "KMS.1602", kms.ListKeys, pb.ListKeysRequest(marker=marker))


def test_list_keys_marker_past_end(kms, key_id):
    page = kms.ListKeys(pb.ListKeysRequest(marker="50"))
    assert (list(page.keys), page.total, page.truncated) == ([], 1, False)


# -- EnableKey / DisableKey -------------------------------------------------------------
def test_disable_enable(kms, key_id):
    assert kms.DisableKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 3
    expect_error(PRECONDITION, "KMS.1301", kms.DisableKey, pb.KeyIdRequest(key_id=key_id))
    assert kms.EnableKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 2
    expect_error(PRECONDITION, "KMS.1201", kms.EnableKey, pb.KeyIdRequest(key_id=key_id))


def test_enable_disable_pending_deletion_key(kms, key_id):
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    expect_error(PRECONDITION, "KMS.1201", kms.EnableKey, pb.KeyIdRequest(key_id=key_id))
    expect_error(PRECONDITION, "KMS.1301", kms.DisableKey, pb.KeyIdRequest(key_id=key_id))


# -- ScheduleKeyDeletion / CancelKeyDeletion ------------------------------------------
@pytest.mark.parametrize("days", [7, 1096])
def test_schedule_deletion(kms, key_id, days):
    before = int(time.time() * 1000)
    out = kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=days))
    assert (out.key_id, out.key_state) == (key_id, 4)
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert info.key_state == 4
    expected = before + days * 86_400_000
    assert expected - 5000 <= info.scheduled_deletion_date <= expected + 5000


@pytest.mark.parametrize("days", [0, 6, 1097, -7])
def test_schedule_deletion_bad_days(kms, key_id, days):
    expect_error(
        INVALID, "KMS.1401", kms.ScheduleKeyDeletion, pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=days)
    )
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 2


def test_schedule_deletion_twice(kms, key_id):
    req = pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=30)
    kms.ScheduleKeyDeletion(req)
    expect_error(PRECONDITION, "KMS.1402", kms.ScheduleKeyDeletion, req)


def test_cancel_deletion_comes_back_disabled(kms, key_id):
    expect_error(PRECONDITION, "KMS.1501", kms.CancelKeyDeletion, pb.KeyIdRequest(key_id=key_id))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    out = kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=key_id))
    assert (out.key_id, out.key_state) == (key_id, 3)
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_state, info.scheduled_deletion_date) == (3, 0)
    expect_error(PRECONDITION, "KMS.1501", kms.CancelKeyDeletion, pb.KeyIdRequest(key_id=key_id))
    assert kms.EnableKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 2


def test_schedule_deletion_of_disabled_key(kms, key_id):
    kms.DisableKey(pb.KeyIdRequest(key_id=key_id))
    assert kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7)).key_state == 4
    assert kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=key_id)).key_state == 3


# -- UpdateKeyAlias / UpdateKeyDescription ------------------------------------------
def test_update_alias(kms, key_id):
    name = alias()
    info = kms.UpdateKeyAlias(pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=name)).key_info
    assert info.key_alias == name
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_alias == name
    # Setting the same alias again is not a duplicate of another key.
    assert kms.UpdateKeyAlias(pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=name)).key_info.key_alias == name


def test_update_alias_errors(kms, key_id):
    taken = alias()
    new_key(kms, key_alias=taken)
    expect_error(INVALID, "KMS.1104", kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=taken))
    for bad in ("", "bad alias", "mine/default"):
        expect_error(INVALID, "KMS.1101", kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=bad))
    expect_error(INVALID, "KMS.0205", kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id="x", key_alias=alias()))
    expect_error(
        NOT_FOUND,
        "KMS.0207",
        kms.UpdateKeyAlias,
        pb.UpdateKeyAliasRequest(key_id=str(uuid.uuid4()), key_alias=alias()),
    )
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    expect_error(
        PRECONDITION, "KMS.0210", kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=alias())
    )


def test_update_description(kms, key_id):
    info = kms.UpdateKeyDescription(pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description="new")).key_info
    assert info.key_description == "new"
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_description == "new"
    cleared = kms.UpdateKeyDescription(pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description=""))
    assert cleared.key_info.key_description == ""
    expect_error(
        INVALID,
        "KMS.1103",
        kms.UpdateKeyDescription,
        pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description="d" * 256),
    )
    expect_error(
        NOT_FOUND,
        "KMS.0207",
        kms.UpdateKeyDescription,
        pb.UpdateKeyDescriptionRequest(key_id=str(uuid.uuid4()), key_description="x"),
    )


# -- sequence ---------------------------------------------------------------------------
@pytest.mark.parametrize("seq", ["short", SEQ + "x", "x" * 35], ids=["short", "37-chars", "35-chars"])
def test_sequence_wrong_length(kms, key_id, seq):
    bad = [
        (kms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), sequence=seq)),
        (kms.DescribeKey, pb.KeyIdRequest(key_id=key_id, sequence=seq)),
        (kms.ListKeys, pb.ListKeysRequest(sequence=seq)),
        (kms.DisableKey, pb.KeyIdRequest(key_id=key_id, sequence=seq)),
        (kms.EnableKey, pb.KeyIdRequest(key_id=key_id, sequence=seq)),
        (kms.ScheduleKeyDeletion, pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7, sequence=seq)),
        (kms.CancelKeyDeletion, pb.KeyIdRequest(key_id=key_id, sequence=seq)),
        (kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=alias(), sequence=seq)),
        (kms.UpdateKeyDescription, pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description="x", sequence=seq)),
        (kms.GenerateRandom, pb.GenerateRandomRequest(random_data_length=64, sequence=seq)),
        (kms.CreateDataKey, pb.CreateDataKeyRequest(key_id=key_id, sequence=seq)),
        (kms.CreateDataKeyWithoutPlaintext, pb.CreateDataKeyRequest(key_id=key_id, sequence=seq)),
        (kms.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"x", sequence=seq)),
    ]
    for fn, req in bad:
        expect_error(INVALID, "KMS.0206", fn, req)
    # Nothing happened: the key is still enabled, with its old alias and description.
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_state, info.key_description) == (2, "")
    assert kms.ListKeys(pb.ListKeysRequest()).total == 1


def test_sequence_well_formed_accepted(kms, key_id):
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id, sequence=SEQ)).key_info.key_id == key_id
    assert kms.ListKeys(pb.ListKeysRequest(sequence=SEQ)).total == 1
    assert len(kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=64, sequence=SEQ)).random_data) == 8


# -- another project's key ---------------------------------------------------------------
def test_other_projects_key_is_not_found_for_lifecycle(gateway, kms, key_id):
    intruder = gateway.stub(gateway.token())
    calls = [
        (intruder.DescribeKey, pb.KeyIdRequest(key_id=key_id)),
        (intruder.EnableKey, pb.KeyIdRequest(key_id=key_id)),
        (intruder.DisableKey, pb.KeyIdRequest(key_id=key_id)),
        (intruder.ScheduleKeyDeletion, pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7)),
        (intruder.CancelKeyDeletion, pb.KeyIdRequest(key_id=key_id)),
        (intruder.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=alias())),
        (intruder.UpdateKeyDescription, pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description="x")),
    ]
    for fn, req in calls:
        expect_error(NOT_FOUND, "KMS.0207", fn, req)
    assert key_id not in intruder.ListKeys(pb.ListKeysRequest()).keys
    # The owner sees it untouched.
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_state, info.key_description) == (2, "")


# -- default keys -----------------------------------------------------------------------
def test_default_key_is_immutable(gateway, project):
    project_id, kms = project
    token = gateway.token(project_id)
    key_id = default_key(gateway, token)
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_alias, info.default_key_flag, info.key_state) == ("obs/default", 1, 2)
    assert key_id in kms.ListKeys(pb.ListKeysRequest()).keys

    immutable = [
        (kms.UpdateKeyAlias, pb.UpdateKeyAliasRequest(key_id=key_id, key_alias=alias())),
        (kms.UpdateKeyDescription, pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description="x")),
        (kms.DisableKey, pb.KeyIdRequest(key_id=key_id)),
        (kms.ScheduleKeyDeletion, pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7)),
    ]
    for fn, req in immutable:
        expect_error(INVALID, "KMS.0211", fn, req)
    info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_alias, info.key_description, info.key_state) == ("obs/default", "", 2)

    # It works for cryptography like any key.
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
    )
    assert out.data_key == dk.plain_text


def test_default_key_not_counted(gateway, project):
    project_id, kms = project
    default_key(gateway, gateway.token(project_id), "evs/default")
    assert kms.GetUserInstances(pb.Empty()).instance_num == 0
    new_key(kms)
    assert kms.GetUserInstances(pb.Empty()).instance_num == 1
    cmk = next(r for r in kms.GetUserQuotas(pb.Empty()).resources if r.type == "CMK")
    assert cmk.used == 1


def test_default_alias_is_unique_per_project(gateway, project):
    project_id, _ = project
    token = gateway.token(project_id)
    default_key(gateway, token, "kms/default")
    with pytest.raises(KmsError) as info:
        default_key(gateway, token, "kms/default")
    assert info.value.err is Err.DUPLICATE_ALIAS


# -- quotas -----------------------------------------------------------------------------
def test_user_instances_and_quotas(gateway, kms):
    assert kms.GetUserInstances(pb.Empty()).instance_num == 0
    ids = [new_key(kms) for _ in range(3)]
    assert kms.GetUserInstances(pb.Empty()).instance_num == 3
    quotas = {r.type: r for r in kms.GetUserQuotas(pb.Empty()).resources}
    assert set(quotas) == {"CMK", "grant_per_CMK"}
    assert quotas["CMK"].used == 3
    assert quotas["CMK"].quota == gateway.rt.config.cmk_quota
    assert quotas["grant_per_CMK"].quota > 0
    # Disabled and pending-deletion keys still exist, so they still count.
    kms.DisableKey(pb.KeyIdRequest(key_id=ids[0]))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=ids[1], pending_days=7))
    assert kms.GetUserInstances(pb.Empty()).instance_num == 3


def test_key_quota_exceeded(gateway, kms, monkeypatch):
    new_key(kms)
    monkeypatch.setattr(gateway.rt.kms.settings, "cmk_quota", 1)
    expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "KMS.1105", kms.CreateKey, pb.CreateKeyRequest(key_alias=alias()))
