"""The XksStore aggregate on SQLite and PostgreSQL alike (migration 0008): uniqueness, upserts and
the cascades (a keystore takes its credentials and mappings with it, a key its mappings)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.core.model import KeyRecord, KeyState
from gateway.core.ports.store import XksCredentialRow, XksKeyRow, XksKeystoreRow
from gateway.store.factory import open_url

BIG_MS = 4_102_444_800_000  # 2100-01-01: beyond a 32-bit integer


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = f"sqlite://{tmp_path}/kms.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    st = open_url(url, tmp_path)
    yield st
    st.close()


def _key(store) -> str:
    key_id = str(uuid.uuid4())
    rec = KeyRecord(
        key_id, "p1", "d1", f"a-{key_id[:8]}", "", "AES_256", "ENCRYPT_DECRYPT", "kms", KeyState.ENABLED, BIG_MS
    )
    store.insert_key(rec)
    return key_id


def test_keystores_credentials_and_mappings(store):
    assert store.put_xks_keystore(XksKeystoreRow("", "p1", BIG_MS))
    assert store.put_xks_keystore(XksKeystoreRow("/a/b", "p1", BIG_MS))
    assert not store.put_xks_keystore(XksKeystoreRow("/a/b", "p2", BIG_MS))  # one prefix, one keystore
    assert store.get_xks_keystore("/a/b") == XksKeystoreRow("/a/b", "p1", BIG_MS)
    assert [k.uri_prefix for k in store.list_xks_keystores()] == ["", "/a/b"]

    sealed = bytes(range(60))
    assert store.put_xks_credential(XksCredentialRow("AK1", "/a/b", sealed, BIG_MS))
    assert store.put_xks_credential(XksCredentialRow("AK2", "/a/b", sealed, BIG_MS + 1))
    assert not store.put_xks_credential(XksCredentialRow("AK1", "", sealed, BIG_MS))  # unique across keystores
    assert not store.put_xks_credential(XksCredentialRow("AK3", "/gone", sealed, BIG_MS))  # no such keystore
    assert store.get_xks_credential("AK1") == XksCredentialRow("AK1", "/a/b", sealed, BIG_MS)
    assert [c.access_key_id for c in store.list_xks_credentials("/a/b")] == ["AK1", "AK2"]
    assert store.delete_xks_credential("AK1") and not store.delete_xks_credential("AK1")

    key_id, other = _key(store), _key(store)
    assert store.put_xks_key(XksKeyRow("/a/b", "ext-1", key_id, ("ENCRYPT", "DECRYPT"), BIG_MS))
    assert store.put_xks_key(XksKeyRow("/a/b", "ext-1", other, ("DECRYPT",), BIG_MS))  # replaced
    assert store.put_xks_key(XksKeyRow("/a/b", "none", key_id, (), BIG_MS))
    assert not store.put_xks_key(XksKeyRow("/gone", "ext-1", key_id, (), BIG_MS))
    assert not store.put_xks_key(XksKeyRow("/a/b", "ext-2", str(uuid.uuid4()), (), BIG_MS))  # no such key
    assert store.get_xks_key("/a/b", "ext-1") == XksKeyRow("/a/b", "ext-1", other, ("DECRYPT",), BIG_MS)
    assert store.get_xks_key("/a/b", "none").key_usage == ()
    assert [m.xks_key_id for m in store.list_xks_keys("/a/b")] == ["ext-1", "none"]

    store.delete_key(other)  # a deleted key takes its mappings
    assert store.get_xks_key("/a/b", "ext-1") is None
    assert store.delete_xks_key("/a/b", "none") and not store.delete_xks_key("/a/b", "none")

    store.put_xks_key(XksKeyRow("/a/b", "ext-3", key_id, ("ENCRYPT",), BIG_MS))
    generation = store.generation
    assert store.delete_xks_keystore("/a/b") and not store.delete_xks_keystore("/a/b")
    assert store.generation != generation  # readers' caches move on
    assert store.get_xks_credential("AK2") is None and store.list_xks_keys("/a/b") == []
