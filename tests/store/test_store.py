"""The metadata store, one suite run against both adapters: SQLite and PostgreSQL.

Every test taking ``store`` runs twice (a fresh SQLite file, a fresh PostgreSQL database on the
session's throwaway cluster, see tests/support/pg.py). The end of the file runs a real
`kmsgw serve --store postgresql://...` and checks the adapter-specific parts: migration
translation, NOTIFY invalidation and its reconnect, password sources, URL parsing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import psycopg
import pytest

from gateway.core.model import Grant, KeyRecord, KeyState
from gateway.core.ports.store import CredentialRow, DuplicateAlias, ImportParamsRow, TokenRow
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.store import url as store_url
from gateway.store.factory import open_url
from gateway.store.migrate import migration_files, to_postgres
from gateway.store.postgres import translate
from gateway.store.sql import IntegrityError
from gateway.store.sqlite import DATA_VERSION_POLL_S, SqliteStore
from tests.support.rest import Rest
from tests.support.serve import cli, start_serve

BIG_MS = 4_102_444_800_000  # 2100-01-01: far beyond a 32-bit integer
DAY_MS = 86_400_000


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url_(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/kms.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url_: str, tmp_path: Path):
    st = open_url(store_url_, tmp_path)
    yield st
    st.close()


def key(n: int = 0, **kw: object) -> KeyRecord:
    fields: dict = {
        "key_id": str(uuid.uuid4()),
        "project_id": "p1",
        "domain_id": "d1",
        "key_alias": f"alias-{uuid.uuid4().hex[:8]}",
        "key_description": "",
        "key_spec": "AES_256",
        "key_usage": "ENCRYPT_DECRYPT",
        "origin": "kms",
        "key_state": KeyState.ENABLED,
        "creation_date": 1_700_000_000_000 + n,
    }
    fields.update(kw)
    return KeyRecord(**fields)


def grant(key_id: str, n: int = 0, **kw: object) -> Grant:
    fields: dict = {
        "grant_id": uuid.uuid4().hex * 2,
        "key_id": key_id,
        "project_id": "p1",
        "name": f"g{n}",
        "grantee_principal": "user-b",
        "grantee_principal_type": "user",
        "retiring_principal": "",
        "operations": ["encrypt-data", "decrypt-data"],
        "issuing_principal": "user-a",
        "creation_date": 1_700_000_000_000 + n,
    }
    fields.update(kw)
    return Grant(**fields)


# -- keys ----------------------------------------------------------------------------------
def test_key_round_trip_and_update(store):
    rec = key(
        scheduled_deletion_date=BIG_MS, default_key_flag=True, realm="r", expiration_time=BIG_MS + 1, provisioning=True
    )
    store.insert_key(rec)
    assert store.get_key("p1", rec.key_id) == rec
    assert store.get_key("other", rec.key_id) is None
    assert store.get_key_by_id(rec.key_id) == rec
    assert store.get_key_by_id(str(uuid.uuid4())) is None
    assert isinstance(store.get_key_by_id(rec.key_id).key_state, KeyState)
    store.update_key(rec.key_id, key_state=KeyState.DISABLED, key_description="d", provisioning=False)
    got = store.get_key_by_id(rec.key_id)
    assert (got.key_state, got.key_description, got.provisioning) == (KeyState.DISABLED, "d", False)
    with pytest.raises(ValueError, match="not updatable"):
        store.update_key(rec.key_id, project_id="p2")
    store.delete_key(rec.key_id)
    assert store.get_key_by_id(rec.key_id) is None


def test_duplicate_alias_and_duplicate_id(store):
    a = key(key_alias="same")
    store.insert_key(a)
    with pytest.raises(DuplicateAlias):
        store.insert_key(key(key_alias="same"))
    store.insert_key(key(key_alias="same", project_id="p2"))  # unique per project only
    b = key(key_alias="other")
    store.insert_key(b)
    with pytest.raises(DuplicateAlias):
        store.update_key(b.key_id, key_alias="same")
    assert store.get_key_by_id(b.key_id).key_alias == "other"  # rolled back
    with pytest.raises(IntegrityError):
        store.insert_key(key(key_id=a.key_id))
    with pytest.raises(sqlite3.IntegrityError):  # code written against SQLite keeps working
        store.insert_key(key(key_id=a.key_id))


def test_list_and_count_keys(store):
    recs = [key(i) for i in range(5)]
    recs[1].key_state = KeyState.DISABLED
    recs[2].default_key_flag = True
    for r in recs:
        store.insert_key(r)
    store.insert_key(key(9, provisioning=True))  # invisible to listings
    store.insert_key(key(10, project_id="p2"))
    page, total = store.list_keys("p1", None, 1, 2)
    assert total == 5 and [r.key_id for r in page] == [recs[1].key_id, recs[2].key_id]
    page, total = store.list_keys("p1", KeyState.DISABLED, 0, 10)
    assert (total, [r.key_id for r in page]) == (1, [recs[1].key_id])
    assert store.count_keys("p1") == 4
    assert store.count_keys("p1", include_default=True) == 5
    assert store.count_keys("nobody") == 0


def test_deletion_provisioning_versions(store):
    due = key(0, key_state=KeyState.PENDING_DELETION, scheduled_deletion_date=1000)
    later = key(1, key_state=KeyState.PENDING_DELETION, scheduled_deletion_date=BIG_MS)
    prov = key(2, provisioning=True)
    for r in (due, later, prov):
        store.insert_key(r)
    assert [r.key_id for r in store.keys_due_for_deletion(5000)] == [due.key_id]
    assert {r.key_id for r in store.keys_due_for_deletion(BIG_MS)} == {due.key_id, later.key_id}
    assert [r.key_id for r in store.provisioning_keys()] == [prov.key_id]
    assert store.all_key_ids() == {due.key_id, later.key_id, prov.key_id}
    store.add_key_version(due.key_id, 2, BIG_MS)
    assert store.key_versions(due.key_id) == [1, 2]
    with pytest.raises(IntegrityError):
        store.add_key_version(due.key_id, 2, BIG_MS)
    with pytest.raises(IntegrityError):  # foreign key: no such key
        store.add_key_version(str(uuid.uuid4()), 1, 0)


def test_delete_key_cascades(store):
    rec = key()
    store.insert_key(rec)
    store.put_rotation(rec.key_id, enabled=True, interval_days=30, base_at=0)
    assert store.insert_grant(grant(rec.key_id), 10)
    assert store.change_tags(rec.key_id, "p1", {"a": "1"}, {}, 10)
    store.material_imported(rec.key_id, b"\x01" * 3, 5, None)
    store.delete_key(rec.key_id)
    assert store.key_versions(rec.key_id) == []
    assert store.get_rotation(rec.key_id) is None
    assert store.list_grants(rec.key_id, 0, 10) == ([], 0)
    assert store.key_tags(rec.key_id) == {}
    assert store.get_key_material(rec.key_id) is None


# -- principals ------------------------------------------------------------------------------
def test_projects_credentials_tokens(store):
    assert store.project_domain("p1") is None
    store.put_project("p1", "d1")
    store.put_project("p1", "d2")  # the first domain stays
    assert store.project_domain("p1") == "d1"
    secret = bytes(range(256))
    row = CredentialRow("AK1", secret, "p1", "d1", "u1")
    store.put_credential(row, BIG_MS)
    got = store.get_credential("AK1")
    assert (got.access_key, got.sealed_secret, got.project_id, got.domain_id, got.user_id) == (
        "AK1",
        secret,
        "p1",
        "d1",
        "u1",
    )
    assert isinstance(got.sealed_secret, bytes)
    assert store.get_credential("AK2") is None
    with pytest.raises(IntegrityError):
        store.put_credential(row, BIG_MS)
    store.put_token("h" * 64, TokenRow("p1", "d1", "u1", BIG_MS))
    tok = store.get_token("h" * 64)
    assert (tok.project_id, tok.domain_id, tok.user_id, tok.expires_at) == ("p1", "d1", "u1", BIG_MS)
    assert store.get_token("x" * 64) is None


# -- rotation --------------------------------------------------------------------------------
def test_rotation_settings_and_versions(store):
    a, b, off = key(0), key(1), key(2)
    for r in (a, b, off):
        store.insert_key(r)
    assert store.get_rotation(a.key_id) is None
    store.put_rotation(a.key_id, enabled=True, interval_days=30, base_at=0)
    store.put_rotation(b.key_id, enabled=True, interval_days=365, base_at=0)
    store.put_rotation(off.key_id, enabled=False, interval_days=30, base_at=0)
    store.put_rotation(a.key_id, enabled=True, interval_days=40, base_at=10)  # upsert
    rot = store.get_rotation(a.key_id)
    assert (rot.enabled, rot.interval_days, rot.base_at, rot.last_rotation_at, rot.rotations) == (True, 40, 10, None, 0)
    assert [r.key_id for r in store.keys_due_for_rotation(41 * DAY_MS, DAY_MS)] == [a.key_id]
    assert [r.key_id for r in store.keys_due_for_rotation(400 * DAY_MS, DAY_MS)] == [b.key_id, a.key_id]
    assert store.rotation_enabled_among([a.key_id, off.key_id, "nope"]) == {a.key_id}
    assert store.rotation_enabled_among([]) == set()

    assert store.begin_key_version(a.key_id, 2, 100)
    assert not store.begin_key_version(a.key_id, 2, 100)  # claimed already
    assert store.pending_key_versions() == [(a.key_id, 2)]
    assert not store.finish_key_version(a.key_id, 3, BIG_MS)  # no such pending row: nothing changes
    assert store.finish_key_version(a.key_id, 2, BIG_MS)
    assert store.get_key_by_id(a.key_id).current_version == 2
    rot = store.get_rotation(a.key_id)
    assert (rot.base_at, rot.last_rotation_at, rot.rotations) == (BIG_MS, BIG_MS, 1)
    assert not store.finish_key_version(a.key_id, 2, BIG_MS)  # settled already
    assert store.pending_key_versions() == []
    assert store.begin_key_version(b.key_id, 2, 100)
    store.drop_key_version(b.key_id, 2)
    assert store.key_versions(b.key_id) == [1]
    assert store.finish_key_version(off.key_id, 2, 5) is False  # never begun


# -- grants ----------------------------------------------------------------------------------
def test_grants(store):
    rec, other = key(0), key(1)
    store.insert_key(rec)
    store.insert_key(other)
    g1 = grant(rec.key_id, 1, retiring_principal="ret")
    g2 = grant(rec.key_id, 2, grantee_principal="dom-b", grantee_principal_type="domain", operations=["sign"])
    g3 = grant(other.key_id, 3, retiring_principal="ret")
    assert store.insert_grant(g1, 2) and store.insert_grant(g2, 2) and store.insert_grant(g3, 2)
    assert not store.insert_grant(grant(rec.key_id, 4), 2)  # at the limit
    assert store.get_grant(g1.grant_id) == g1
    assert store.get_grant("0" * 64) is None
    page, total = store.list_grants(rec.key_id, 1, 5)
    assert total == 2 and page == [g2]
    page, total = store.list_retirable_grants(["ret", "nobody"], 0, 1)
    assert total == 2 and page == [g1]
    assert store.list_retirable_grants([], 0, 10) == ([], 0)
    assert store.granted_operations(rec.key_id, "user-b", "dom-b") == {"encrypt-data", "decrypt-data", "sign"}
    assert store.granted_operations(rec.key_id, "user-x", "dom-b") == {"sign"}
    assert store.granted_operations(rec.key_id, "user-x", "dom-x") is None
    assert store.max_grants_per_key("p1") == 2
    assert store.max_grants_per_key("nobody") == 0
    assert store.delete_grant(g1.grant_id)
    assert not store.delete_grant(g1.grant_id)
    with pytest.raises(IntegrityError):
        store.insert_grant(g2, 10)


# -- tags ------------------------------------------------------------------------------------
def test_tags(store):
    a, b, c = key(0, key_alias="prod-db"), key(1, key_alias="prod-web"), key(2, key_alias="test%db")
    for r in (a, b, c):
        store.insert_key(r)
    assert store.change_tags(a.key_id, "p1", {"env": "prod", "team": "x"}, {}, 10)
    assert store.change_tags(b.key_id, "p1", {"env": "prod"}, {}, 10)
    assert store.change_tags(c.key_id, "p1", {"env": "test", "team": "y"}, {}, 10)
    assert not store.change_tags(a.key_id, "p1", {"more": "1"}, {}, 2)  # over the limit: nothing changed
    assert store.key_tags(a.key_id) == {"env": "prod", "team": "x"}
    assert store.change_tags(a.key_id, "p1", {"env": "staging"}, {"team": "other"}, 10)  # wrong value: kept
    assert store.key_tags(a.key_id) == {"env": "staging", "team": "x"}
    assert store.change_tags(a.key_id, "p1", {}, {"team": None}, 10)
    assert store.key_tags(a.key_id) == {"env": "staging"}
    assert store.project_tags("p1") == {"env": ["prod", "staging", "test"], "team": ["y"]}
    keys, total = store.keys_by_tags("p1", [("env", ["prod", "test"])], None, 0, 10)
    assert total == 2 and [k.key_id for k in keys] == [b.key_id, c.key_id]
    keys, total = store.keys_by_tags("p1", [("team", [])], None, 0, 10)
    assert [k.key_id for k in keys] == [c.key_id]
    keys, total = store.keys_by_tags("p1", [], "prod", 1, 10)
    assert total == 2 and [k.key_id for k in keys] == [b.key_id]
    keys, total = store.keys_by_tags("p1", [], "%", 0, 10)  # a literal %, not a wildcard
    assert [k.key_id for k in keys] == [c.key_id]
    assert store.keys_by_tags("p1", [("env", [])], None, 0, None) == ([], 3)
    expected = {a.key_id: {"env": "staging"}, c.key_id: {"env": "test", "team": "y"}}
    assert store.tags_of_keys([a.key_id, c.key_id]) == expected
    assert store.tags_of_keys([]) == {}


# -- key import (BYOK) -----------------------------------------------------------------------
def test_import_parameters_and_material(store):
    rec = key(0, origin="external", key_state=KeyState.PENDING_IMPORT)
    store.insert_key(rec)
    old = ImportParamsRow("a" * 32, rec.key_id, "wrap-a", "RSAES_OAEP_SHA_256", None, 1, 1000)
    new = ImportParamsRow("b" * 32, rec.key_id, "wrap-b", "RSAES_OAEP_SHA_256", None, 2, BIG_MS)
    store.put_import_parameters(old)
    store.put_import_parameters(new)
    assert store.get_import_parameters("a" * 32) == old
    assert store.live_import_parameters(rec.key_id, "RSAES_OAEP_SHA_256", 500) is None  # no public key yet
    store.set_import_public_key("a" * 32, b"\x30\x82pub-a")
    store.set_import_public_key("b" * 32, b"\x30\x82pub-b")
    live = store.live_import_parameters(rec.key_id, "RSAES_OAEP_SHA_256", 500)
    assert live.token_id == "b" * 32 and live.public_key == b"\x30\x82pub-b" and isinstance(live.public_key, bytes)
    assert store.live_import_parameters(rec.key_id, "RSAES_OAEP_SHA_1", 500) is None
    assert [r.token_id for r in store.expired_import_parameters(1000)] == ["a" * 32]
    store.delete_import_parameters("a" * 32)
    assert store.get_import_parameters("a" * 32) is None
    with pytest.raises(IntegrityError):
        store.put_import_parameters(new)

    assert store.get_key_material(rec.key_id) is None
    store.material_imported(rec.key_id, b"\xaa\xbb\xcc", 7, BIG_MS)
    mat = store.get_key_material(rec.key_id)
    assert (mat.check_value, mat.first_imported_at, mat.present) == (b"\xaa\xbb\xcc", 7, True)
    got = store.get_key_by_id(rec.key_id)
    assert (got.key_state, got.expiration_time) == (KeyState.ENABLED, BIG_MS)
    assert store.keys_with_expired_material(BIG_MS - 1) == []
    assert [r.key_id for r in store.keys_with_expired_material(BIG_MS)] == [rec.key_id]
    store.material_removed(rec.key_id)
    mat = store.get_key_material(rec.key_id)
    assert mat.present is False
    got = store.get_key_by_id(rec.key_id)
    assert (got.key_state, got.expiration_time) == (KeyState.PENDING_IMPORT, None)
    store.material_imported(rec.key_id, b"\xaa\xbb\xcc", 99, None)  # re-import keeps the first time
    assert store.get_key_material(rec.key_id).first_imported_at == 7


# -- what other features added to the store (portability on both backends) -------------------
def test_caller_policies(store):
    store.put_project("p1", "d1")
    store.put_credential(CredentialRow("AK1", b"s", "p1", "d1", "u1", frozenset({"kms:cmk:get", "kms:dek:create"})), 1)
    assert store.get_credential("AK1").allowed_actions == frozenset({"kms:cmk:get", "kms:dek:create"})
    assert store.set_credential_actions("AK1", None)
    assert store.get_credential("AK1").allowed_actions is None
    assert not store.set_credential_actions("AK-unknown", frozenset())
    store.put_token("t" * 64, TokenRow("p1", "d1", "u1", BIG_MS, frozenset({"kms:cmk:list"})))
    assert store.get_token("t" * 64).allowed_actions == frozenset({"kms:cmk:list"})


def test_certificate_bindings(store):
    from gateway.core.ports.store import CertificateBindingRow

    store.put_credential(CredentialRow("AK1", b"s", "p1", "d1", "u1"), 1)
    row = CertificateBindingRow("f" * 64, "AK1", "CN=a", BIG_MS, 5)
    assert store.bind_certificate(row) == row
    assert store.bind_certificate(CertificateBindingRow("f" * 64, "AK1", "CN=b", 1, 6)) == row  # kept
    assert store.get_certificate_binding("f" * 64) == row
    assert store.list_certificate_bindings() == [row] == store.list_certificate_bindings("AK1")
    assert store.unbind_certificate("f" * 64) and not store.unbind_certificate("f" * 64)
    with pytest.raises(IntegrityError):  # the credential must exist
        store.bind_certificate(CertificateBindingRow("e" * 64, "AK-unknown", "CN=c", 1, 1))


def test_leases(store):
    assert store.try_lease("sweep", "a", 1000, 500)
    assert store.try_lease("sweep", "a", 1200, 500)  # renewal
    assert not store.try_lease("sweep", "b", 1600, 500)  # a's lease runs until 1700
    assert store.try_lease("sweep", "b", 1701, 500)  # expired: taken over
    store.release_lease("sweep", "a")  # not a's any more: no effect
    assert not store.try_lease("sweep", "a", 1800, 500)
    store.release_lease("sweep", "b")
    assert store.try_lease("sweep", "a", 1800, 500)


def test_recovery_rows(store):
    rec = key(0, provisioning=True)
    store.insert_key(rec)
    assert store.finish_provisioning(rec.key_id)
    assert not store.get_key_by_id(rec.key_id).provisioning
    assert not store.finish_provisioning(str(uuid.uuid4()))
    assert store.begin_key_version(rec.key_id, 2, 100)
    assert store.stale_pending_key_versions(101) == [(rec.key_id, 2)]
    assert store.stale_pending_key_versions(100) == []
    assert store.note_orphans(["x", "y"], 10) == {"x": 10, "y": 10}
    assert store.note_orphans(["y", "z"], 20) == {"y": 10, "z": 20}  # x is no orphan any more
    store.forget_orphans(["y"])
    assert store.note_orphans(["y", "z"], 30) == {"y": 30, "z": 20}
    # drop_provisioning deletes only a row still in flight, never one its creator finished
    assert not store.drop_provisioning(rec.key_id)
    assert store.get_key_by_id(rec.key_id) is not None
    leftover = key(1, provisioning=True)
    store.insert_key(leftover)
    assert store.drop_provisioning(leftover.key_id)
    assert store.get_key_by_id(leftover.key_id) is None
    assert not store.drop_provisioning(leftover.key_id)


def test_every_adapter_declares_whether_it_is_shared(store):
    """SQLite starts unshared (a second serve on the file flips it); PostgreSQL always is."""
    assert store.shared is (not isinstance(store, SqliteStore))


# -- migrations --------------------------------------------------------------------------------
def _migration_rows(store) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in store._all("SELECT version, name FROM schema_migrations ORDER BY version")]


def test_migrations_applied_once(store_url_, tmp_path):
    expected = [(v, n) for v, n, _ in migration_files()]
    first = open_url(store_url_, tmp_path)
    first.insert_key(key(0))
    first.close()
    again = open_url(store_url_, tmp_path)  # nothing left to apply: data and versions unchanged
    try:
        assert _migration_rows(again) == expected
        assert len(again.all_key_ids()) == 1
    finally:
        again.close()


_OPEN_AT = """
import sys, time
from pathlib import Path
from gateway.store.factory import open_url
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
open_url(sys.argv[1], Path(sys.argv[2])).close()
"""


def test_concurrent_first_open_migrates_once(store_url_, tmp_path):
    """Two processes open the same empty store at the same moment: both succeed, each file applied once."""
    start_at = str(time.time() + 2.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", _OPEN_AT, store_url_, str(tmp_path), start_at], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    st = open_url(store_url_, tmp_path)
    try:
        assert _migration_rows(st) == [(v, n) for v, n, _ in migration_files()]
    finally:
        st.close()


def test_migration_translation_to_postgres():
    assert to_postgres("CREATE TABLE t (a INTEGER NOT NULL, b BLOB, c REAL, d TEXT) -- integer blob") == (
        "CREATE TABLE t (a BIGINT NOT NULL, b BYTEA, c DOUBLE PRECISION, d TEXT)"
    )
    altered = to_postgres("ALTER TABLE keys ADD COLUMN pending integer NOT NULL DEFAULT 0")
    assert altered.endswith("pending BIGINT NOT NULL DEFAULT 0")
    for bad in (
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)",
        "INSERT OR IGNORE INTO t VALUES (1)",
        "CREATE TABLE t (a TEXT) WITHOUT ROWID",
    ):
        with pytest.raises(ValueError, match="not portable"):
            to_postgres(bad)
    for _, name, sql in migration_files():  # every shipped file translates
        assert "INTEGER" not in " ".join(to_postgres(s) for s in sql.split(";") if s.strip()).upper(), name


def test_sql_translation_for_psycopg():
    assert translate("SELECT * FROM t WHERE a = ? AND b IN (?, ?)") == "SELECT * FROM t WHERE a = %s AND b IN (%s, %s)"
    assert translate("SELECT '?', \"a?\" FROM t WHERE x LIKE 'a%' AND y = ?") == (
        "SELECT '?', \"a?\" FROM t WHERE x LIKE 'a%%' AND y = %s"
    )
    assert translate("SELECT 1 WHERE instr(key_alias, ?) > 0") == "SELECT 1 WHERE strpos(key_alias, %s) > 0"
    assert translate("SELECT 1 WHERE a NOT IN ()") == "SELECT 1 WHERE a NOT IN (SELECT NULL WHERE FALSE)"


# -- generation: invalidation by other connections --------------------------------------------
def _wait_for_change(store, before: int, within_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        if store.generation != before:
            return time.monotonic() - start
        time.sleep(0.001)
    raise AssertionError(f"generation did not change within {within_s}s")


def test_generation_own_write_bumps_at_once(store):
    before = store.generation
    store.put_project("p1", "d1")
    assert store.generation != before


def test_generation_changes_on_another_connections_write(store_url_, tmp_path):
    """Another process's commit (a second store object: its own connection) changes ``generation``."""
    reader = open_url(store_url_, tmp_path)
    writer = open_url(store_url_, tmp_path)
    try:
        rec = key()
        writer.insert_key(rec)
        time.sleep(0.3)  # let the insert's notification arrive
        _ = reader.generation  # the first read after a change moves it
        settled = reader.generation
        time.sleep(0.1)
        assert reader.generation == settled  # nothing written: no change
        writer.update_key(rec.key_id, key_state=KeyState.DISABLED)
        lag = _wait_for_change(reader, settled, 2.0)
        assert lag < 1.0
        assert reader.get_key_by_id(rec.key_id).key_state is KeyState.DISABLED
    finally:
        reader.close()
        writer.close()


def test_sqlite_generation_sees_another_connections_commit_within_the_poll_interval(tmp_path):
    """The documented bound (docs/postgres.md): once DATA_VERSION_POLL_S has passed since the last
    poll, the next read of ``generation`` polls and sees a commit made meanwhile by another process."""
    reader, writer = SqliteStore(tmp_path / "m.db"), SqliteStore(tmp_path / "m.db")
    try:
        settled = reader.generation  # polls now: the next poll is due DATA_VERSION_POLL_S from here
        writer.put_project("p1", "d1")
        time.sleep(DATA_VERSION_POLL_S)
        assert reader.generation != settled
        settled = reader.generation
        time.sleep(DATA_VERSION_POLL_S)
        assert reader.generation == settled  # nothing written since: no change
    finally:
        reader.close()
        writer.close()


# -- PostgreSQL specifics ----------------------------------------------------------------------
@pytest.fixture
def pg_store(pg_url, tmp_path):
    st = open_url(pg_url, tmp_path)
    yield st
    st.close()


def _terminate(pg_url: str, where: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = current_database() AND pid <> pg_backend_pid() AND {where}"
        ).fetchall()
    return len(rows)


def test_pg_listener_reconnects_and_bumps(pg_url, pg_store):
    before = pg_store.generation
    assert _terminate(pg_url, "query LIKE 'LISTEN%'") == 1
    _wait_for_change(pg_store, before, 5.0)  # a reconnect counts as "anything may have changed"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until it listens again
        with psycopg.connect(pg_url, autocommit=True) as conn:
            sql = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            if conn.execute(sql).fetchone():
                break
        time.sleep(0.05)
    settled = pg_store.generation
    other = open_url(pg_url, Path("/nonexistent"))
    try:
        other.put_project("px", "dx")
        _wait_for_change(pg_store, settled, 2.0)  # notifications flow again
    finally:
        other.close()


def test_pg_reads_survive_dropped_pool_connections(pg_url, pg_store):
    pg_store.put_project("p1", "d1")
    assert _terminate(pg_url, "application_name = 'kmsgw' AND query NOT LIKE 'LISTEN%'") >= 1
    assert pg_store.project_domain("p1") == "d1"  # retried on a fresh connection
    pg_store.put_project("p2", "d2")  # writes work again too
    assert pg_store.project_domain("p2") == "d2"


def test_pg_writes_are_serialized_across_stores(pg_url, tmp_path):
    """The grant limit is checked in the write transaction: two nodes racing cannot exceed it."""
    import threading

    stores = [open_url(pg_url, tmp_path) for _ in range(2)]
    try:
        rec = key()
        stores[0].insert_key(rec)
        results: list[bool] = []
        lock = threading.Lock()

        def add(st) -> None:
            for i in range(10):
                ok = st.insert_grant(grant(rec.key_id, i), 5)
                with lock:
                    results.append(ok)

        threads = [threading.Thread(target=add, args=(st,)) for st in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 5
        assert stores[1].list_grants(rec.key_id, 0, 100)[1] == 5
    finally:
        for st in stores:
            st.close()


@pytest.fixture
def password_role(pg_cluster, pg_url):
    if pg_cluster.data_dir is None:
        pytest.skip("password tests need the local throwaway cluster (its pg_hba.conf)")
    password = uuid.uuid4().hex
    with psycopg.connect(pg_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'kmsgw_pw'").fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(f"{verb} ROLE kmsgw_pw LOGIN SUPERUSER PASSWORD '{password}'")  # test value
    dbname = pg_url.rsplit("/", 1)[1]
    return pg_cluster.url(dbname, user="kmsgw_pw"), password


def test_pg_password_sources(password_role, tmp_path, monkeypatch):
    url, password = password_role
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(Exception, match="password"):
        open_url(url, tmp_path, pool_timeout_s=2).close()
    # [postgres] password_file: a 0600 file, refused when others can read it
    secret = tmp_path / "pg.password"
    secret.write_text(password + "\n")
    secret.chmod(0o644)
    with pytest.raises(PermissionError):
        open_url(url, tmp_path, password_file=secret)
    secret.chmod(0o600)
    open_url(url, tmp_path, password_file=secret).close()
    # libpq's passfile (PGPASSFILE / ~/.pgpass): host:port:db:user:password
    passfile = tmp_path / "pgpass"
    host, port = url.split("@", 1)[1].split("/", 1)[0].split(":")
    passfile.write_text(f"{host}:{port}:*:kmsgw_pw:{password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    open_url(url, tmp_path).close()


def test_store_urls(tmp_path):
    parse = store_url.parse
    assert parse("", tmp_path).sqlite_path == tmp_path / "kms.db"
    assert parse("sqlite:///abs/kms.db", tmp_path).sqlite_path == Path("/abs/kms.db")
    assert parse("sqlite:/abs/kms.db", tmp_path).sqlite_path == Path("/abs/kms.db")
    assert parse("sqlite:other.db", tmp_path).sqlite_path == tmp_path / "other.db"
    pg = parse("postgresql://u@h:5433/db", tmp_path)
    assert (pg.kind, pg.postgres_url) == ("postgresql", "postgresql://u@h:5433/db")
    assert parse("postgres://u@h/db", tmp_path).kind == "postgresql"
    for bad in ("kms.db", "sqlite://host/x.db", "sqlite:", "mysql://u@h/db", "postgresql://u@h"):
        with pytest.raises(ValueError):
            parse(bad, tmp_path)
    assert store_url.redact("postgresql://u:s3cret@h:5/db?sslmode=require&password=x") == (
        "postgresql://u:***@h:5/db?sslmode=require&password=***"
    )
    assert store_url.has_password("postgresql://u:s3cret@h/db")
    assert not store_url.has_password("postgresql://u@h/db?passfile=/x")
    with pytest.raises(ValueError) as exc:
        parse("mysql://u:s3cret@h/db", tmp_path)
    assert "s3cret" not in str(exc.value)


# -- a real `kmsgw serve` on PostgreSQL ---------------------------------------------------------
def test_serve_on_postgresql_grpc_and_rest(password_role, tmp_path, monkeypatch):
    """Two workers (each its own pool) on a password-protected database; the password reaches the
    process through PGPASSFILE only and appears in no log line."""
    url, password = password_role
    passfile = tmp_path / "pgpass"
    host, port = url.split("@", 1)[1].split("/", 1)[0].split(":")
    passfile.write_text(f"{host}:{port}:*:kmsgw_pw:{password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    data_dir = tmp_path / "var"
    project_id = uuid.uuid4().hex
    srv = start_serve(data_dir, "--store", url, "--workers", "2", "--log-level", "DEBUG")
    try:
        token = cli(data_dir, "token", "create", "--project-id", project_id, "--store", url)["token"]
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        stub = pb_grpc.KeyManagementServiceStub(channel)
        md = (("x-auth-token", token),)
        key_id = stub.CreateKey(pb.CreateKeyRequest(key_alias="on-pg"), metadata=md, timeout=30).key_info.key_id
        dk = stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id), metadata=md, timeout=30)
        back = stub.DecryptDataKey(
            pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32),
            metadata=md,
            timeout=30,
        )
        assert back.data_key == dk.plain_text
        channel.close()

        rest = Rest(f"http://127.0.0.1:{srv.http_port}", project_id, token=token)
        made = rest.ok("/create-datakey", {"key_id": key_id, "datakey_length": "256"})
        plain = rest.ok(
            "/decrypt-datakey",
            {"key_id": key_id, "cipher_text": made["cipher_text"], "datakey_cipher_length": "32"},
        )
        assert plain["data_key"] == made["plain_text"]
        listed = rest.ok("/list-keys", {})
        assert listed["keys"] == [key_id]
        rest.close()
        with psycopg.connect(url.replace("kmsgw_pw@", "postgres@"), autocommit=True) as conn:
            assert conn.execute("SELECT key_alias FROM keys WHERE key_id = %s", (key_id,)).fetchone()[0] == "on-pg"
    finally:
        assert srv.terminate() == 0
    assert not (data_dir / "kms.db").exists()  # nothing went to SQLite
    assert password not in repr(srv.log_lines)
    assert os.environ["PGPASSFILE"] == str(passfile)
