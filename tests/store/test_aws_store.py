"""The AwsStore aggregate (migration 0009) on SQLite and PostgreSQL alike: every method, its
uniqueness rules and limits, listing order and paging, and the cascades when a key is deleted.

Beside tests/store/test_store.py (same two-database fixture) rather than inside it, to keep each
module readable; `KMSGW_TEST_REQUIRE_PG=1` makes a missing PostgreSQL a failure, as there.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.core.model import KeyRecord, KeySpec, KeyState, KeyUsage, Origin
from gateway.core.ports.store import (
    AwsAccountRow,
    AwsAliasRow,
    AwsCredentialRow,
    AwsGrantRow,
    AwsKeyRow,
    AwsRotationRow,
)
from gateway.store.factory import open_url
from gateway.store.sql import IntegrityError

BIG_MS = 4_102_444_800_000  # 2100-01-01: beyond a 32-bit integer
ACCOUNT, OTHER = "123456789012", "210987654321"
POLICY = '{"Version":"2012-10-17","Statement":[]}'


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = f"sqlite://{tmp_path}/kms.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    st = open_url(url, tmp_path)
    yield st
    st.close()


def _key(store, n: int = 0, *, provisioning: bool = False) -> str:
    key_id = str(uuid.uuid4())
    rec = KeyRecord(
        key_id, "aws-p", "d1", f"a-{key_id[:8]}", "", KeySpec.AES_256, KeyUsage.ENCRYPT_DECRYPT, Origin.KMS,
        KeyState.ENABLED, BIG_MS + n, provisioning=provisioning,
    )  # fmt: skip
    store.insert_key(rec)
    return key_id


def _aws_key(store, n: int = 0, *, account: str = ACCOUNT, region: str = "us-east-1", **kw: bool) -> str:
    key_id = _key(store, n, **kw)
    store.put_aws_key(AwsKeyRow(key_id, account, region, POLICY, BIG_MS + n))
    return key_id


def _grant(key_id: str, n: int, grantee: str = "arn:aws:iam::123456789012:user/a", **kw: object) -> AwsGrantRow:
    fields: dict = {
        "grant_id": f"{n:064x}",
        "key_id": key_id,
        "name": f"g{n}",
        "grantee_principal": grantee,
        "retiring_principal": "",
        "issuing_account": f"arn:aws:iam::{ACCOUNT}:root",
        "operations": ("Decrypt", "Encrypt"),
        "constraints": "",
        "grant_token": f"token-{n}",
        "created_at": BIG_MS + n,
    }
    fields.update(kw)
    return AwsGrantRow(**fields)


def test_accounts_and_access_keys(store):
    first = store.put_aws_account(AwsAccountRow(ACCOUNT, "aws-p", BIG_MS))
    assert first == AwsAccountRow(ACCOUNT, "aws-p", BIG_MS)
    assert store.put_aws_account(AwsAccountRow(ACCOUNT, "another", 1)) == first  # an account keeps its project
    assert store.get_aws_account(ACCOUNT) == first
    assert store.get_aws_account(OTHER) is None

    sealed = bytes(range(256)) * 2  # every byte value survives the BLOB / BYTEA column
    admin = AwsCredentialRow("AKIAADMIN", ACCOUNT, "admin", sealed, None, BIG_MS)
    limited = AwsCredentialRow("AKIALIMITED", ACCOUNT, "app", sealed, frozenset({"kms:Encrypt", "kms:Decrypt"}), 5)
    assert store.put_aws_credential(admin) and store.put_aws_credential(limited)
    assert not store.put_aws_credential(AwsCredentialRow("AKIAADMIN", ACCOUNT, "x", b"\x00", None, 1))  # id taken
    assert store.get_aws_credential("AKIAADMIN") == admin  # None: every action, not the empty list
    assert store.get_aws_credential("AKIALIMITED") == limited
    assert store.get_aws_credential("AKIANOBODY") is None
    orphan = AwsCredentialRow("AKIAORPHAN", OTHER, "x", b"\x00", None, 1)
    assert not store.put_aws_credential(orphan)  # an access key belongs to an account that exists
    assert store.get_aws_credential("AKIAORPHAN") is None


def test_keys_by_account_and_region(store):
    east = [_aws_key(store, n) for n in (2, 0, 1)]
    west = _aws_key(store, 3, region="eu-west-1")
    other = _aws_key(store, 4, account=OTHER)
    hidden = _aws_key(store, 5, provisioning=True)  # still being made: not listed, not counted
    assert store.get_aws_key(west) == AwsKeyRow(west, ACCOUNT, "eu-west-1", POLICY, BIG_MS + 3)
    assert store.get_aws_key(str(uuid.uuid4())) is None
    oldest_first = [east[1], east[2], east[0]]
    rows, total = store.list_aws_keys(ACCOUNT, "us-east-1", 0, 10)
    assert ([r.key_id for r in rows], total) == (oldest_first, 3)
    rows, total = store.list_aws_keys(ACCOUNT, "us-east-1", 1, 1)
    assert ([r.key_id for r in rows], total) == ([east[2]], 3)
    assert store.list_aws_keys(ACCOUNT, "eu-west-1", 0, 10)[1] == 1
    assert store.list_aws_keys(OTHER, "us-east-1", 0, 10)[0][0].key_id == other
    assert store.list_aws_keys(ACCOUNT, "ap-south-1", 0, 10) == ([], 0)
    assert set(store.aws_key_ids()) == {*east, west, other, hidden}

    assert store.set_aws_key_policy(west, '{"Statement":[{"Effect":"Deny"}]}')
    assert store.get_aws_key(west).policy == '{"Statement":[{"Effect":"Deny"}]}'
    assert not store.set_aws_key_policy(str(uuid.uuid4()), POLICY)
    with pytest.raises(IntegrityError):  # one AWS row per key
        store.put_aws_key(AwsKeyRow(west, ACCOUNT, "us-east-1", POLICY, 1))
    with pytest.raises(IntegrityError):  # and only for a key that exists
        store.put_aws_key(AwsKeyRow(str(uuid.uuid4()), ACCOUNT, "us-east-1", POLICY, 1))


def test_aliases_per_account_and_region(store):
    a, b = _aws_key(store, 0), _aws_key(store, 1)
    row = AwsAliasRow(ACCOUNT, "us-east-1", "alias/orders", a, BIG_MS, BIG_MS)
    assert store.put_aws_alias(row)
    assert not store.put_aws_alias(AwsAliasRow(ACCOUNT, "us-east-1", "alias/orders", b, 1, 1))  # taken there
    assert store.put_aws_alias(AwsAliasRow(ACCOUNT, "eu-west-1", "alias/orders", b, 1, 1))  # another region
    assert store.put_aws_alias(AwsAliasRow(OTHER, "us-east-1", "alias/orders", b, 1, 1))  # another account
    assert store.put_aws_alias(AwsAliasRow(ACCOUNT, "us-east-1", "alias/billing", b, 2, 2))
    assert not store.put_aws_alias(AwsAliasRow(ACCOUNT, "us-east-1", "alias/gone", str(uuid.uuid4()), 1, 1))
    assert store.get_aws_alias(ACCOUNT, "us-east-1", "alias/orders") == row
    assert store.get_aws_alias(ACCOUNT, "us-east-1", "alias/none") is None

    rows, total = store.list_aws_aliases(ACCOUNT, "us-east-1", None, 0, 10)
    assert ([r.alias_name for r in rows], total) == (["alias/billing", "alias/orders"], 2)  # by name
    rows, total = store.list_aws_aliases(ACCOUNT, "us-east-1", None, 1, 1)
    assert ([r.alias_name for r in rows], total) == (["alias/orders"], 2)
    rows, total = store.list_aws_aliases(ACCOUNT, "us-east-1", a, 0, 10)
    assert ([r.alias_name for r in rows], total) == (["alias/orders"], 1)

    assert store.retarget_aws_alias(ACCOUNT, "us-east-1", "alias/orders", b, BIG_MS + 9)
    moved = store.get_aws_alias(ACCOUNT, "us-east-1", "alias/orders")
    assert (moved.key_id, moved.created_at, moved.updated_at) == (b, BIG_MS, BIG_MS + 9)
    assert not store.retarget_aws_alias(ACCOUNT, "us-east-1", "alias/none", b, 1)
    assert store.delete_aws_alias(ACCOUNT, "us-east-1", "alias/orders")
    assert not store.delete_aws_alias(ACCOUNT, "us-east-1", "alias/orders")
    assert store.get_aws_alias(ACCOUNT, "eu-west-1", "alias/orders") is not None  # the other region's stays


def test_grants_limit_lookup_and_listing(store):
    key_id, other = _aws_key(store, 0), _aws_key(store, 1)
    retiring = "arn:aws:iam::123456789012:user/ops"
    constrained = _grant(key_id, 2, constraints='{"EncryptionContextSubset":{"app":"orders"}}',
                         retiring_principal=retiring)  # fmt: skip
    assert store.put_aws_grant(_grant(key_id, 1), 3)
    assert store.put_aws_grant(constrained, 3)
    assert store.put_aws_grant(_grant(key_id, 3, grantee="arn:aws:iam::123456789012:user/b"), 3)
    assert not store.put_aws_grant(_grant(key_id, 4), 3)  # the key holds its maximum
    assert store.put_aws_grant(_grant(other, 5, retiring_principal=retiring), 3)  # the limit is per key
    assert not store.put_aws_grant(_grant(key_id, 1), 10)  # a grant id is unique
    assert not store.put_aws_grant(_grant(str(uuid.uuid4()), 6), 10)  # no such key

    assert store.get_aws_grant(constrained.grant_id) == constrained  # operations and constraints round-trip
    assert store.get_aws_grant_by_token("token-2") == constrained
    assert store.get_aws_grant("0" * 64) is None and store.get_aws_grant_by_token("nope") is None
    mine = store.aws_grants_for(key_id, "arn:aws:iam::123456789012:user/a")
    assert sorted(g.grant_id for g in mine) == [_grant(key_id, 1).grant_id, constrained.grant_id]
    assert store.aws_grants_for(other, "arn:aws:iam::123456789012:user/b") == []

    rows, total = store.list_aws_grants(key_id, 0, 10)
    assert ([g.name for g in rows], total) == (["g1", "g2", "g3"], 3)  # oldest first
    rows, total = store.list_aws_grants(key_id, 2, 5)
    assert ([g.name for g in rows], total) == (["g3"], 3)
    rows, total = store.list_aws_retirable_grants(retiring, 0, 10)
    assert ([g.name for g in rows], total) == (["g2", "g5"], 2)  # across keys
    assert store.delete_aws_grant(constrained.grant_id)
    assert not store.delete_aws_grant(constrained.grant_id)
    assert store.list_aws_grants(key_id, 0, 10)[1] == 2


def test_rotations_on_demand_and_automatic(store):
    key_id = _aws_key(store, 0)
    assert store.aws_key_rotations(key_id, 0, 10) == ([], 0)  # version 1 is no rotation
    for version in (2, 3, 4):
        assert store.begin_key_version(key_id, version, 100)
        assert store.finish_key_version(key_id, version, BIG_MS + version)
    assert store.begin_key_version(key_id, 5, 100)  # pending: not a rotation yet
    store.note_aws_rotation(key_id, 3, "AUTOMATIC")
    store.note_aws_rotation(key_id, 3, "ON_DEMAND")  # the later note wins
    store.note_aws_rotation(key_id, 4, "ON_DEMAND")
    rows, total = store.aws_key_rotations(key_id, 0, 10)
    assert total == 3
    assert [(r.version, r.rotation_type) for r in rows] == [(2, "AUTOMATIC"), (3, "ON_DEMAND"), (4, "ON_DEMAND")]
    assert isinstance(rows[0], AwsRotationRow) and rows[0].rotated_at > 0
    rows, total = store.aws_key_rotations(key_id, 1, 1)
    assert ([r.version for r in rows], total) == ([3], 3)


def test_deleting_a_key_takes_its_aws_rows(store):
    key_id, kept = _aws_key(store, 0), _aws_key(store, 1)
    store.put_aws_alias(AwsAliasRow(ACCOUNT, "us-east-1", "alias/x", key_id, 1, 1))
    store.put_aws_alias(AwsAliasRow(ACCOUNT, "us-east-1", "alias/y", kept, 1, 1))
    store.put_aws_grant(_grant(key_id, 1), 10)
    store.put_aws_grant(_grant(kept, 2), 10)
    assert store.begin_key_version(key_id, 2, 1) and store.finish_key_version(key_id, 2, 2)
    store.note_aws_rotation(key_id, 2, "ON_DEMAND")
    before = store.generation
    store.delete_key(key_id)
    assert store.generation != before  # readers' caches (the AWS directory's) see the change
    assert store.get_aws_key(key_id) is None
    assert store.get_aws_alias(ACCOUNT, "us-east-1", "alias/x") is None
    assert store.get_aws_grant(_grant(key_id, 1).grant_id) is None
    assert store.aws_key_rotations(key_id, 0, 10) == ([], 0)
    assert store.aws_key_ids() == [kept]
    assert store.get_aws_alias(ACCOUNT, "us-east-1", "alias/y") is not None
    assert store.list_aws_grants(kept, 0, 10)[1] == 1
