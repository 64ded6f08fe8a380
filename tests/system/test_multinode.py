"""Several gateway nodes on one PostgreSQL database and one token: the proof (docs/several-nodes.md).

Every node is a real `kmsgw serve` process on its own ephemeral ports; all share one data dir
(the SoftHSM2 token and its PINs) and one database (`store = postgresql://...` in one config
file). Clients talk to them over gRPC and REST exactly as they would in production; the
database is read directly only to check what the nodes did, and written directly only to move a
deletion or rotation date into the past (the API's minimum is 7 days; no setting shortens it).

Staleness bounds under test (docs/several-nodes.md): key state is cached per process for
``key_cache_seconds``, but every write NOTIFYs every other process, which drops its cache; the
shared cluster runs with ``key_cache_seconds = 30`` so a refusal within a few seconds can only
come from that invalidation, not from the TTL. Grants are read fresh on every request. Callers'
policies are re-read on the same invalidation, with POLICY_RECHECK_SECONDS as the backstop.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from gateway.core.auth import POLICY_RECHECK_SECONDS, SEAL_KEY_LABEL
from gateway.core.byok import TOKEN_KEY_LABEL
from gateway.core.leases import SWEEP_LEASE
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.hsm.softhsm import DEFAULT_TOKEN_LABEL, token_labels
from gateway.store.migrate import migration_files
from tests.support.gateway import kms_code
from tests.support.kms import free_port
from tests.support.multinode import Nodes, refused_code, seconds_until, write_config
from tests.support.node import secret_key_labels, wait_for
from tests.support.rest import error_of

KEY_CACHE_SECONDS = 30.0  # far above every bound asserted below: only invalidation can explain them
INVALIDATION_BOUND_S = 5.0  # measured in milliseconds (docs/postgres.md); generous for a loaded 2-core CI box
SWEEP_INTERVAL_S = 1.0
DAY_MS = 86_400_000
PROVISIONING_TIMEOUT_S = 3.0  # the kill -9 test's node: in-flight rows older than this are a crash's leftovers


def _alias(prefix: str = "mn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _datakey_round_trip(maker, reader, key_id: str) -> None:
    dk = maker.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context={"node": "x"}))
    back = reader.DecryptDataKey(
        pb.DecryptDataKeyRequest(
            key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32, encryption_context={"node": "x"}
        )
    )
    assert back.data_key == dk.plain_text


def _use(kms, key_id: str) -> None:
    kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))


# -- one shared pair: A with two workers, B with one ------------------------------------------------
@pytest.fixture(scope="module")
def pair(pg_cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("multinode")
    url = pg_cluster.create_database()
    # A long sweep interval: lease renewals are store writes whose notifications drop caches too, which
    # would blur what the invalidation tests below prove.
    config = write_config(
        base / "kmsgw.toml", url, key_cache_seconds=KEY_CACHE_SECONDS, sweep_interval_s=3600, drain_seconds=2
    )
    nodes = Nodes(base / "var", url, config)
    try:
        nodes.start("A", workers=2)
        nodes.start("B", workers=1)
        yield nodes
    finally:
        nodes.close()


@pytest.fixture
def owner(pair):
    project = uuid.uuid4().hex
    return project, pair.token(project)


def test_a_key_made_on_one_node_is_usable_on_the_other_at_once(pair, owner):
    project, token = owner
    a, b = pair.stub("A", token), pair.stub("B", token)
    key_a = a.CreateKey(pb.CreateKeyRequest(key_alias=_alias())).key_info.key_id
    _datakey_round_trip(a, b, key_a)  # gRPC: made on A, opened on B
    _datakey_round_trip(b, a, key_a)  # and the other way
    assert b.DescribeKey(pb.KeyIdRequest(key_id=key_a)).key_info.key_state == 2

    rest_a, rest_b = pair.rest("A", project, token=token), pair.rest("B", project, token=token)
    key_b = rest_b.create_key()  # REST: made on B
    blob = rest_b.ok("/encrypt-data", {"key_id": key_b, "plain_text": "several nodes"})["cipher_text"]
    assert rest_a.ok("/decrypt-data", {"cipher_text": blob})["plain_text"] == "several nodes"
    made = rest_a.ok("/create-datakey", {"key_id": key_b, "datakey_length": "256"})
    plain = rest_b.ok(
        "/decrypt-datakey", {"key_id": key_b, "cipher_text": made["cipher_text"], "datakey_cipher_length": "32"}
    )
    assert plain["data_key"] == made["plain_text"]
    # A ciphertext from gRPC on A opens through REST on B (same key, one format).
    grpc_blob = a.EncryptData(pb.EncryptDataRequest(key_id=key_b, plain_text=b"several nodes")).cipher_text
    assert rest_b.ok("/decrypt-data", {"cipher_text": base64.b64encode(grpc_blob).decode()})["plain_text"] == (
        "several nodes"
    )
    for rest in (rest_a, rest_b):
        assert sorted(rest.ok("/list-keys", {})["keys"]) == sorted([key_a, key_b])


def test_keys_made_on_both_nodes_in_turn_are_usable_on_each(pair, owner):
    """SoftHSM2 keeps a per-process index of token objects; a process that writes an object adopts the
    token's change counter and so misses objects other processes made just before (a key made on A,
    then one made on B: B could not find A's). The gateway re-reads the index on a miss."""
    _, token = owner
    a, b = pair.stub("A", token), pair.stub("B", token)
    for _ in range(3):
        made_on_a = a.CreateKey(pb.CreateKeyRequest(key_alias=_alias())).key_info.key_id
        made_on_b = b.CreateKey(pb.CreateKeyRequest(key_alias=_alias())).key_info.key_id
        _datakey_round_trip(b, a, made_on_a)
        _datakey_round_trip(a, b, made_on_b)


def _warm_clients(pair: Nodes, node: str, token: str, key_id: str, n: int) -> list:
    """``n`` channels to one node (with workers, the kernel spreads them over the processes),
    each having used ``key_id`` so that its process holds the key row in its cache."""
    clients = [pair.stub(node, token) for _ in range(n)]
    for kms in clients:
        _use(kms, key_id)
    return clients


def _seconds_until_all_refuse(clients: list, key_id: str, code: str | None) -> tuple[float, int]:
    """From now, poll every client until each answers ``code`` (None: success); returns the time the
    last one took and how many answered so on their very first request."""
    start = time.monotonic()
    first_try = 0
    for kms in clients:
        tries = [0]

        def settled(kms=kms, tries=tries) -> bool:
            tries[0] += 1
            return refused_code(lambda: _use(kms, key_id)) == code

        seconds_until(settled, INVALIDATION_BOUND_S, f"every client of the other node to answer {code}")
        first_try += tries[0] == 1
    return time.monotonic() - start, first_try


def test_disable_on_b_is_enforced_by_a_on_its_next_requests(pair, owner):
    _, token = owner
    b = pair.stub("B", token)
    key_id = b.CreateKey(pb.CreateKeyRequest(key_alias=_alias())).key_info.key_id
    clients_a = _warm_clients(pair, "A", token, key_id, 8)  # A's two workers now cache the enabled row

    b.DisableKey(pb.KeyIdRequest(key_id=key_id))
    took, immediate = _seconds_until_all_refuse(clients_a, key_id, "KMS.0209")
    print(f"disable on B refused by all of A's workers after {took * 1000:.1f} ms ({immediate}/8 at once)")
    assert took < INVALIDATION_BOUND_S < KEY_CACHE_SECONDS

    clients_a[0].EnableKey(pb.KeyIdRequest(key_id=key_id))  # and back: enabled on A, usable on B
    took, _ = _seconds_until_all_refuse([b], key_id, None)
    print(f"enable on A usable on B after {took * 1000:.1f} ms")
    assert took < INVALIDATION_BOUND_S


def test_scheduled_deletion_on_a_is_refused_on_b_and_cancel_restores_it(pair, owner):
    project, token = owner
    a = pair.stub("A", token)
    key_id = a.CreateKey(pb.CreateKeyRequest(key_alias=_alias())).key_info.key_id
    clients_b = _warm_clients(pair, "B", token, key_id, 2)
    rest_b = pair.rest("B", project, token=token)
    rest_b.ok("/create-datakey", {"key_id": key_id, "datakey_length": "256"})

    state = a.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    assert state.key_state == 4
    took, _ = _seconds_until_all_refuse(clients_b, key_id, "KMS.0210")
    assert error_of(rest_b.call("/create-datakey", {"key_id": key_id, "datakey_length": "256"})) == (400, "KMS.0210")
    print(f"scheduled deletion on A refused on B after {took * 1000:.1f} ms")
    assert took < INVALIDATION_BOUND_S

    assert clients_b[0].CancelKeyDeletion(pb.KeyIdRequest(key_id=key_id)).key_state == 3  # comes back disabled
    _seconds_until_all_refuse([a], key_id, "KMS.0209")
    clients_b[0].EnableKey(pb.KeyIdRequest(key_id=key_id))
    took, _ = _seconds_until_all_refuse([a], key_id, None)
    assert took < INVALIDATION_BOUND_S
    assert rest_b.ok("/describe-key", {"key_id": key_id})["key_info"]["key_state"] == "2"


def test_a_grant_made_on_a_works_on_b_and_a_revoke_on_b_counts_on_a_at_once(pair, owner):
    _, owner_token = owner
    grantee_user = uuid.uuid4().hex
    grantee_token = pair.token(uuid.uuid4().hex, "--user-id", grantee_user)  # another project
    owner_a, owner_b = pair.stub("A", owner_token), pair.stub("B", owner_token)
    grantee_a, grantee_b = pair.stub("A", grantee_token), pair.stub("B", grantee_token)
    key_id = owner_a.CreateKey(pb.CreateKeyRequest(key_alias=_alias())).key_info.key_id
    assert refused_code(lambda: _use(grantee_b, key_id)) == "KMS.0207"

    req = pb.CreateGrantRequest(
        key_id=key_id, grantee_principal=grantee_user, operations=["create-datakey", "decrypt-datakey"]
    )
    grant_id = owner_a.CreateGrant(req).grant_id
    _datakey_round_trip(grantee_b, grantee_a, key_id)  # granted on A, used on B (and A)

    owner_b.RevokeGrant(pb.GrantIdRequest(key_id=key_id, grant_id=grant_id))
    # Grants are read fresh on every request: the very next request on A is refused, no polling.
    assert refused_code(lambda: _use(grantee_a, key_id)) == "KMS.0207"
    assert refused_code(lambda: _use(grantee_b, key_id)) == "KMS.0207"
    _use(owner_a, key_id)  # the owner is untouched


def test_cli_credentials_tokens_and_policy_changes_count_on_every_node(pair):
    project = uuid.uuid4().hex
    cred = pair.cli("credentials", "create", "--project-id", project)  # the CLI writes to the shared store
    token = pair.token(project)
    rests = {n: [pair.rest(n, project, creds=cred) for _ in range(3)] for n in ("A", "B")}  # A: both workers
    key_id = rests["A"][0].create_key()
    for name, clients in rests.items():
        for rest in clients:
            assert rest.ok("/describe-key", {"key_id": key_id})["key_info"]["key_id"] == key_id, name
            rest.ok("/create-datakey", {"key_id": key_id, "datakey_length": "256"})
        _use(pair.stub(name, token), key_id)  # and the token, over gRPC

    every = [rest for clients in rests.values() for rest in clients]

    def answers(code: tuple[int, str] | None) -> float:
        start = time.monotonic()
        for rest in every:

            def settled(rest=rest) -> bool:
                resp = rest.call("/create-datakey", {"key_id": key_id, "datakey_length": "256"})
                return (None if resp.status_code == 200 else error_of(resp)) == code

            seconds_until(settled, POLICY_RECHECK_SECONDS + INVALIDATION_BOUND_S, f"every node to answer {code}")
        return time.monotonic() - start

    pair.cli("credentials", "allow", "--access-key", cred["access_key"], "kms:cmk:get")
    took_deny = answers((403, "KMS.0307"))
    for rest in every:  # what the policy still allows
        assert rest.ok("/describe-key", {"key_id": key_id})["key_info"]["key_id"] == key_id
    pair.cli("credentials", "allow", "--access-key", cred["access_key"], "--all")
    took_allow = answers(None)
    print(f"CLI policy change seen by every node: deny {took_deny * 1000:.0f} ms, allow {took_allow * 1000:.0f} ms")
    assert max(took_deny, took_allow) < POLICY_RECHECK_SECONDS + INVALIDATION_BOUND_S


def test_the_audit_trail_of_every_node_is_one_valid_chain(pair):
    """Every node appends to the data dir's one audit file; the chain and MACs verify end to end."""
    pair.verify_audit()


# -- background work: once across nodes, taken over when the holder dies -----------------------------
def _deleted(lines: list[dict]) -> list[str]:
    return [r["key_id"] for r in lines if r.get("msg") == "key deleted"]


def _rotated(lines: list[dict]) -> list[str]:
    return [r["key_id"] for r in lines if r.get("msg") == "key rotated"]


def _sweep_holders(lines: list[dict]) -> list[str]:
    return [r["holder"] for r in lines if r.get("msg") == "lease acquired" and r.get("lease") == SWEEP_LEASE]


def _doomed(kms, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias=_alias("doomed"))).key_info.key_id
        kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
        ids.append(key_id)
    return ids


def _make_due(nodes: Nodes, key_ids: list[str]) -> None:
    past = int(time.time() * 1000) - 1000
    nodes.sql("UPDATE keys SET scheduled_deletion_date = %s WHERE key_id = ANY(%s)", (past, key_ids))


def test_due_deletions_and_rotations_happen_once_across_nodes(pg_url, tmp_path):
    """Three sweeper loops (A's two workers, B) over one database: each due key is deleted once and its
    objects are gone whichever process made them; a due rotation happens once and its new version
    works on every node. (Hand-over after kill -9 of the holder: tests/store/test_leases.py, on both stores.)"""
    config = write_config(tmp_path / "kmsgw.toml", pg_url, sweep_interval_s=SWEEP_INTERVAL_S, drain_seconds=2)
    nodes = Nodes(tmp_path / "var", pg_url, config)
    try:
        nodes.start("A", workers=2)
        nodes.start("B", workers=1)
        token = nodes.token(uuid.uuid4().hex)
        a, b = nodes.stub("A", token), nodes.stub("B", token)
        doomed = [key for _ in range(3) for key in (_doomed(a, 1) + _doomed(b, 1))]  # made in turn
        rotating = a.CreateKey(pb.CreateKeyRequest(key_alias=_alias("rot"))).key_info.key_id
        b.EnableKeyRotation(pb.KeyIdRequest(key_id=rotating))
        for kms in (a, b):  # every process that made a doomed key writes once more (see refresh_objects)
            kms.CreateKey(pb.CreateKeyRequest(key_alias=_alias("later")))
        _make_due(nodes, doomed)
        nodes.sql(  # its rotation interval (at most 365 days) has passed
            "UPDATE key_rotation SET base_at = %s WHERE key_id = %s", (int(time.time() * 1000) - 400 * DAY_MS, rotating)
        )

        wait_for(lambda: set(doomed) <= set(_deleted(nodes.log_lines())), 60, "the due keys to be deleted")
        wait_for(lambda: rotating in _rotated(nodes.log_lines()), 60, "the due key to be rotated")
        time.sleep(3 * SWEEP_INTERVAL_S)  # several more passes of every sweeper loop
        lines = nodes.log_lines()
        assert sorted(k for k in _deleted(lines) if k in doomed) == sorted(doomed), "a key was deleted twice"
        assert _rotated(lines).count(rotating) == 1, "the key was rotated twice"
        holders = set(_sweep_holders(lines))
        assert len(holders) == 1, f"more than one process held the sweep lease: {holders}"
        assert nodes.sql("SELECT holder FROM leases WHERE name = %s", (SWEEP_LEASE,)) == [(holders.pop(),)]

        assert not nodes.sql("SELECT key_id FROM keys WHERE key_id = ANY(%s)", (doomed,))
        left = [lbl for lbl in secret_key_labels(nodes.data_dir) if lbl.split(":")[0] in doomed]
        assert not left, f"deleted keys' objects are still on the token: {left}"
        for kms in (a, b):
            assert refused_code(lambda kms=kms: kms.DescribeKey(pb.KeyIdRequest(key_id=doomed[0]))) == "KMS.0207"
            status = kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=rotating))
            assert (status.key_version, status.number_of_rotations) == (2, 1)
        # The version the sweeping process made seals on one node and opens on the other.
        _datakey_round_trip(a, b, rotating)
        _datakey_round_trip(b, a, rotating)
    finally:
        nodes.close()


# -- concurrent first start ---------------------------------------------------------------------------
def test_three_nodes_started_at_once_on_an_empty_data_dir_and_database(pg_url, tmp_path):
    """One of them with two workers, and a CLI command in the race. tests/system/test_first_start.py runs the same
    race on both stores; this one adds what PostgreSQL brings: migrations, the setup lease, the audit key."""
    config = write_config(tmp_path / "kmsgw.toml", pg_url, drain_seconds=2)
    nodes = Nodes(tmp_path / "var", pg_url, config)
    project = uuid.uuid4().hex
    assert not nodes.data_dir.exists() and not nodes.sql(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'"
    )
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            starting = [pool.submit(nodes.start, name, workers) for name, workers in (("A", 2), ("B", 1), ("C", 1))]
            cli_token = pool.submit(nodes.token, project)  # a CLI command in the same race
            for f in starting:
                f.result()
            token = cli_token.result()

        # One token, one set of PINs, one of each of the gateway's own keys.
        assert token_labels(nodes.data_dir / "softhsm2.conf") == [DEFAULT_TOKEN_LABEL]
        assert len(list((nodes.data_dir / "tokens").iterdir())) == 1
        for name in ("hsm.pin", "so.pin"):
            assert (nodes.data_dir / name).stat().st_mode & 0o777 == 0o600
        labels = secret_key_labels(nodes.data_dir)
        assert labels.count(SEAL_KEY_LABEL) == 1 and labels.count(TOKEN_KEY_LABEL) == 1, labels
        # Migrations applied once each: recorded once, announced by at most one process each.
        expected = [name for _, name, _ in migration_files()]
        assert [r[0] for r in nodes.sql("SELECT name FROM schema_migrations ORDER BY version")] == expected
        migrated = [r for r in nodes.log_lines() if r.get("msg") == "migrated the metadata store"]
        announced = [name for r in migrated for name in r["applied"]]
        # Each file's transaction may go to a different process; the CLI logs at WARNING, so unannounced.
        assert len(announced) == len(set(announced)) and set(announced) <= set(expected), announced

        # All serve; a key made on one is used on the others.
        a, b, c = (nodes.stub(n, token) for n in "ABC")
        key_id = c.CreateKey(pb.CreateKeyRequest(key_alias="first-start")).key_info.key_id
        _datakey_round_trip(a, b, key_id)
        _datakey_round_trip(b, c, key_id)
        assert not (nodes.data_dir / "kms.db").exists()  # nothing went to SQLite
        nodes.verify_audit()  # one audit MAC key although every node started at once
    finally:
        nodes.close()


# -- kill -9 of one node under load ------------------------------------------------------------------
class _CreateLoad:
    """Threads creating keys on one node and using each at once; remembers every acknowledged key."""

    def __init__(self, kms, threads: int = 2) -> None:
        self.kms = kms
        self.acked: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                key_id = self.kms.CreateKey(pb.CreateKeyRequest(key_alias=_alias("load")), timeout=30).key_info.key_id
            except grpc.RpcError as exc:
                self.errors.append(f"{exc.code()} {kms_code(exc)}")
                continue
            self.acked.append(key_id)
            try:
                _use(self.kms, key_id)
            except grpc.RpcError as exc:
                self.errors.append(f"use of {key_id}: {exc.code()} {kms_code(exc)}")

    def __enter__(self) -> _CreateLoad:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        for t in self._threads:
            t.join(60)


def test_kill_9_of_one_node_under_load_loses_nothing_the_other_made(pg_url, tmp_path):
    """A is killed while creating keys; B keeps creating while A restarts and reconciles.

    A runs with aggressive housekeeping (leftovers older than PROVISIONING_TIMEOUT_S are settled,
    orphans destroyed at once): its start-up reconciliation then really settles its own cut-off
    create, and any mistake in telling B's in-flight keys from leftovers would destroy an
    acknowledged key, which the checks at the end would see.
    """
    config = write_config(
        tmp_path / "kmsgw.toml",
        pg_url,
        sweep_interval_s=3600,
        drain_seconds=2,
        provisioning_timeout_seconds=PROVISIONING_TIMEOUT_S,
        orphan_grace_seconds=0,
        cmk_quota=100_000,  # the load makes a few hundred keys in one project on a fast machine
    )
    nodes = Nodes(tmp_path / "var", pg_url, config)
    try:
        nodes.start("A", workers=1)  # one process: SIGKILL takes the whole node down
        nodes.start("B", workers=2)
        token = nodes.token(uuid.uuid4().hex)
        a, b = nodes.stub("A", token), nodes.stub("B", token)
        with _CreateLoad(b) as load_b, _CreateLoad(a, threads=1) as load_a:
            wait_for(lambda: len(load_a.acked) >= 3 and len(load_b.acked) >= 3, 120, "both nodes to create keys")
            nodes.kill("A")  # mid-load: a create on A may be cut off anywhere
            killed_at = time.monotonic()
            load_a.stop()
            before = len(load_b.acked)
            wait_for(lambda: len(load_b.acked) >= before + 3, 60, "B to keep serving")
            time.sleep(max(0.0, killed_at + PROVISIONING_TIMEOUT_S + 0.5 - time.monotonic()))  # A's leftover is old
            nodes.start("A", workers=1)  # its start-up reconciliation runs while B keeps creating
            restarted = len(load_b.acked)
            wait_for(lambda: len(load_b.acked) >= restarted + 3, 60, "B to keep serving after A's restart")
        assert not load_b.errors, load_b.errors[:5]
        acked = load_a.acked + load_b.acked
        settled = [r for r in nodes["A"].log_lines if r.get("msg") == "reconciled store and token"]
        touched = {k for r in settled for k in r["finished"] + r["removed_rows"]}
        assert not touched & set(acked), "A's reconciliation settled a key that was acknowledged"
        assert not nodes.sql(  # A's cut-off create (if any) was settled, not left half-made
            "SELECT key_id FROM keys WHERE provisioning = 1 AND NOT key_id = ANY(%s)", (load_b.acked,)
        )
        print(
            f"acknowledged keys: {len(load_a.acked)} on A before its kill -9, {len(load_b.acked)} on B;"
            f" A's restart settled {sorted(touched)}"
        )
        labels = set(secret_key_labels(nodes.data_dir))
        assert not [k for k in acked if f"{k}:v1" not in labels], "an acknowledged key's object is gone"
        a = nodes.stub("A", token)  # the restarted A
        for i, key_id in enumerate(acked):
            maker, reader = (a, b) if i % 2 else (b, a)
            _datakey_round_trip(maker, reader, key_id)
            assert reader.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 2
    finally:
        nodes.close()


# -- the database unreachable at start -----------------------------------------------------------------
def test_an_unreachable_database_is_one_clean_line_without_the_password(tmp_path):
    url = f"postgresql://kmsgw:s3cret-pw@127.0.0.1:{free_port()}/kmsgw"  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    data_dir = str(tmp_path / "var")
    base = [sys.executable, "-m", "gateway"]
    serve = subprocess.run(
        [
            *base,
            "serve",
            "--data-dir",
            data_dir,
            "--store",
            url,
            "--workers",
            "2",
            "--grpc-listen",
            "127.0.0.1:0",
            "--rest-listen",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    token = subprocess.run(
        [*base, "token", "create", "--project-id", "p", "--data-dir", data_dir, "--store", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    for out in (serve, token):
        text = out.stdout + out.stderr
        assert out.returncode == 2, text
        assert "Traceback" not in text and "s3cret-pw" not in text, text
        assert "cannot open the metadata store postgresql://kmsgw:***@127.0.0.1:" in text, text
    errors = [json.loads(line) for line in serve.stderr.splitlines() if line.startswith("{")]
    assert [e["msg"].split(":", 1)[0] for e in errors if e["level"] == "error"] == ["refusing to start"], errors
    assert token.stderr.splitlines()[-1].startswith("kmsgw: cannot open the metadata store")
    assert Path(data_dir).exists()
