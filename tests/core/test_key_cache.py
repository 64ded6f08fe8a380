"""The short key-row cache of the crypto path: own writes count at once, other processes'
writes within milliseconds (``store.generation``), and a ciphertext of a newer version forces a fresh read."""

from __future__ import annotations

import sqlite3
import time

import pytest

from gateway.core.errors import Err, KmsError
from gateway.core.service import Kms
from gateway.core.settings import Settings
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb


def _other_process_writes(gateway, sql: str, *args) -> None:
    """A write through a separate connection, as another worker would make it."""
    conn = sqlite3.connect(gateway.rt.config.db_path(), isolation_level=None)
    try:
        conn.execute(sql, args)
    finally:
        conn.close()


def test_own_disable_counts_at_once(kms, key_id):
    kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))  # warms the cache
    kms.DisableKey(pb.KeyIdRequest(key_id=key_id))
    with pytest.raises(Exception) as exc:
        kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    assert "KMS.0209" in str(exc.value)


def test_other_workers_disable_counts_long_before_the_ttl(gateway, kms, key_id):
    """Another process's commit changes the store's generation (SQLite ``PRAGMA data_version``,
    polled every DATA_VERSION_POLL_S), which drops the cached row: the TTL is only a backstop."""
    caller = gateway.rt.auth.caller_from_token(kms._md[0][1])
    core = Kms(gateway.rt.store, gateway.rt.kms.hsm, gateway.clock, Settings(key_cache_seconds=3600))
    gateway.call(core.create_data_key(caller, key_id))  # cached now
    _other_process_writes(gateway, "UPDATE keys SET key_state = 3 WHERE key_id = ?", key_id)
    time.sleep(0.01)  # > DATA_VERSION_POLL_S
    with pytest.raises(KmsError) as exc:
        gateway.call(core.create_data_key(caller, key_id))
    assert exc.value.err is Err.KEY_DISABLED


def test_newer_version_in_a_ciphertext_forces_a_fresh_read(gateway, kms, key_id):
    caller = gateway.rt.auth.caller_from_token(kms._md[0][1])
    stale = Kms(gateway.rt.store, gateway.rt.kms.hsm, gateway.clock, Settings(key_cache_seconds=3600))
    gateway.call(stale.create_data_key(caller, key_id))  # caches version 1
    kms.RotateOnDemand(pb.KeyIdRequest(key_id=key_id))  # another "worker" makes version 2
    rows = stale.key_access._rows  # pretend the cached row is still current (no invalidation reached it)
    rows[key_id] = (time.monotonic() + 3600, gateway.rt.store.generation, rows[key_id][2])
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    from gateway.core.datakeys import DecryptDataKeyItem

    out = gateway.call(stale.decrypt_data_key(caller, DecryptDataKeyItem(key_id, dk.cipher_text, 32)))
    assert out.data_key == dk.plain_text
