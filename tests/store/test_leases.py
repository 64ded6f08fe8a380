"""Leases: the background sweeps run once across every process sharing a store, and move on when
their holder dies — on the real stores (SQLite, PostgreSQL), then with real `kmsgw serve` processes
sharing one data dir (one SoftHSM2 token) and one store. The PostgreSQL cases skip without it."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid

import grpc
import psycopg
import pytest

from gateway.core.leases import SWEEP_LEASE, Lease, sweep_lease_ttl
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.store.factory import open_url
from gateway.store.sqlite import SqliteStore
from tests.support.gateway import kms_code
from tests.support.node import secret_key_labels, stub, wait_for, write_config
from tests.support.serve import cli, start_serve

SWEEP_INTERVAL_S = 1.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """ "" for the data dir's own SQLite file, or a fresh PostgreSQL database."""
    return "" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "kms.db")
    yield s
    s.close()


def test_lease_acquire_renew_refuse_expire_release(store):
    assert store.try_lease("job", "a", now_ms=1_000, ttl_ms=500)
    assert store.try_lease("job", "a", now_ms=1_200, ttl_ms=500)  # renewal: now until 1_700
    assert not store.try_lease("job", "b", now_ms=1_600, ttl_ms=500)  # a's lease still runs
    assert store.try_lease("other-job", "b", now_ms=1_600, ttl_ms=500)  # names are independent
    assert store.try_lease("job", "b", now_ms=1_701, ttl_ms=500)  # expired: taken over
    assert not store.try_lease("job", "a", now_ms=1_800, ttl_ms=500)  # a lost it
    store.release_lease("job", "a")  # not a's to release: no effect
    assert not store.try_lease("job", "a", now_ms=1_800, ttl_ms=500)
    store.release_lease("job", "b")
    assert store.try_lease("job", "a", now_ms=1_800, ttl_ms=500)  # released: free at once


def test_one_winner_among_racing_processes(store_url, tmp_path):
    """Eight stores (as eight processes would have) ask for a free lease at the same instant."""
    url = store_url or f"sqlite://{tmp_path}/kms.db"
    stores = [open_url(url, tmp_path) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def contend(i: int) -> None:
        barrier.wait()
        if stores[i].try_lease("race", f"holder-{i}", now_ms=10_000, ttl_ms=5_000):
            won.append(f"holder-{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert len(won) == 1
        row = stores[0]._one("SELECT holder, expires_at FROM leases WHERE name = 'race'")
        assert (row["holder"], row["expires_at"]) == (won[0], 15_000)
    finally:
        for s in stores:
            s.close()


def test_lease_object_tracks_hand_over(store):
    now = [100.0]
    a = Lease(store, "sweep", ttl_s=5, holder="a", wall_clock=lambda: now[0])
    b = Lease(store, "sweep", ttl_s=5, holder="b", wall_clock=lambda: now[0])
    assert a.renew() and a.held
    assert not b.renew()
    now[0] += 4
    assert a.renew()  # renewed before it ran out
    now[0] += 6
    assert b.renew() and not a.renew()  # a stopped renewing for longer than the ttl
    b.release()
    assert a.renew()
    assert sweep_lease_ttl(60) == 180 and sweep_lease_ttl(0.1) == 5.0


# -- two real `kmsgw serve` processes on one data dir ---------------------------------------
def _deleted_lines(lines: list[dict]) -> list[str]:
    return [rec["key_id"] for rec in list(lines) if rec.get("msg") == "key deleted"]


def _sweep_holders(lines: list[dict]) -> list[str]:
    acquired = [rec for rec in list(lines) if rec.get("msg") == "lease acquired"]
    return [rec["holder"] for rec in acquired if rec.get("lease") == SWEEP_LEASE]


def _make_due(data_dir, store_url: str, key_ids: list[str]) -> None:
    """Move scheduled deletion dates into the past (the API's minimum is 7 days), as time passing would."""
    past = int(time.time() * 1000) - 1000
    if store_url:
        with psycopg.connect(store_url, autocommit=True) as pg:
            changed = pg.execute(
                "UPDATE keys SET scheduled_deletion_date = %s WHERE key_id = ANY(%s)", (past, key_ids)
            ).rowcount
    else:
        conn = sqlite3.connect(data_dir / "kms.db", timeout=30)
        try:
            marks = ",".join("?" for _ in key_ids)
            changed = conn.execute(
                f"UPDATE keys SET scheduled_deletion_date = ? WHERE key_id IN ({marks})", (past, *key_ids)
            ).rowcount
            conn.commit()
        finally:
            conn.close()
    assert changed == len(key_ids)


def _schedule(kms, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias=f"doomed-{uuid.uuid4().hex[:10]}")).key_info.key_id
        kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
        ids.append(key_id)
    return ids


def test_deletion_runs_once_and_moves_on_when_the_holder_dies(tmp_path, store_url):
    data_dir = tmp_path / "var"
    shared_store = {"store": store_url} if store_url else {}  # else each node's data dir SQLite file: the same one
    config = write_config(tmp_path / "kmsgw.toml", sweep_interval_s=SWEEP_INTERVAL_S, drain_seconds=2, **shared_store)
    # Node A has two workers, node B one: three sweeper loops over one store and one token.
    nodes = {"A": start_serve(data_dir, "--config", str(config), "--workers", "2")}
    channels: list[grpc.Channel] = []
    try:
        nodes["B"] = start_serve(data_dir, "--config", str(config), "--workers", "1")
        token = cli(data_dir, "token", "create", "--project-id", uuid.uuid4().hex, "--config", str(config))["token"]
        kms_a, kms_b = stub(nodes["A"].grpc_port, token, channels), stub(nodes["B"].grpc_port, token, channels)
        doomed = _schedule(kms_a, 4) + _schedule(kms_b, 4)
        _make_due(data_dir, store_url, doomed)

        all_lines = lambda: nodes["A"].log_lines + nodes["B"].log_lines  # noqa: E731
        wait_for(lambda: set(doomed) <= set(_deleted_lines(all_lines())), 60, "the due keys to be deleted")
        time.sleep(3 * SWEEP_INTERVAL_S)  # several more passes of every sweeper loop
        deleted = _deleted_lines(all_lines())
        assert sorted(k for k in deleted if k in doomed) == sorted(doomed), "a key was deleted more than once"
        holders = _sweep_holders(all_lines())
        assert len(set(holders)) == 1, f"more than one process held the sweep lease: {holders}"
        holder_pid = int(holders[0].split(":")[1])
        labels = secret_key_labels(data_dir)
        assert not [lbl for lbl in labels if lbl.split(":")[0] in doomed], "a deleted key's object is still there"
        for kms in (kms_a, kms_b):
            with pytest.raises(grpc.RpcError) as exc:
                kms.DescribeKey(pb.KeyIdRequest(key_id=doomed[0]))
            assert kms_code(exc.value) == "KMS.0207"

        # The holder dies without releasing its lease: another process takes over after the ttl.
        os.kill(holder_pid, signal.SIGKILL)
        survivor = "B" if any(r.get("pid") == holder_pid for r in nodes["A"].log_lines) else "A"
        survivor_kms = kms_b if survivor == "B" else kms_a
        late = _schedule(survivor_kms, 2)
        _make_due(data_dir, store_url, late)
        took = wait_for(
            lambda: len(set(_sweep_holders(all_lines()))) == 2, sweep_lease_ttl(SWEEP_INTERVAL_S) + 30, "a takeover"
        )
        wait_for(lambda: set(late) <= set(_deleted_lines(all_lines())), 30, "deletion by the new holder")
        assert sorted(k for k in _deleted_lines(all_lines()) if k in late) == sorted(late)
        print(f"takeover after kill -9: {took:.1f} s (lease ttl {sweep_lease_ttl(SWEEP_INTERVAL_S):.0f} s)")
    finally:
        for ch in channels:
            ch.close()
        for node in nodes.values():
            if node.proc.poll() is None:
                node.terminate()


def test_clean_stop_releases_the_lease(tmp_path):
    """SIGTERM releases the lease, so the next node starts sweeping at once instead of after the ttl."""
    data_dir = tmp_path / "var"
    config = write_config(tmp_path / "kmsgw.toml", sweep_interval_s=30, drain_seconds=1)  # ttl 90 s
    first = start_serve(data_dir, "--config", str(config), "--workers", "1")
    try:
        wait_for(lambda: bool(_sweep_holders(first.log_lines)), 30, "the first node to take the lease")
    finally:
        assert first.terminate() == 0
    assert any(r.get("msg") == "lease released" for r in first.log_lines)
    second = start_serve(data_dir, "--config", str(config), "--workers", "1")
    try:
        wait_for(lambda: bool(_sweep_holders(second.log_lines)), 15, "the second node to take the lease at once")
    finally:
        assert second.terminate() == 0
