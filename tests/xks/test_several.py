"""Keystores, credentials and mappings live in the metadata store: a change made with `kmsgw xks`
reaches every worker of a node and every node on PostgreSQL within 5 s, with no restart — each
after it had already cached the old answer (so only the invalidation can explain the new one)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support.multinode import Nodes, write_config
from tests.support.rest import Rest
from tests.xks.conftest import start_xks, stop
from tests.xks.support import XksClient, decrypt_body, encrypt_body, meta

BOUND_S = 5.0


def _workers_answering(gw, client, op: str, body_of, want: int, *, prefix_404: str | None = None) -> set[int]:
    """Send fresh connections until both HTTP workers have answered ``want``; which workers did (their
    indexes depend on the serving model: the HTTP listener's workers are 0-1, or 2-3 beside gRPC's)."""
    seen: set[int] = set()
    deadline = time.monotonic() + BOUND_S
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"not every worker answered {want} within {BOUND_S} s (saw {seen})"
        rid = f"w-{uuid.uuid4()}"
        reply = client.post(op, body_of(rid))
        if reply.status != want:
            continue
        for _ in range(100):  # the worker's log line, matched by kmsRequestId (or by path for a 404)
            lines = list(gw.srv.log_lines)
            if prefix_404 is not None:
                hits = [r for r in lines if r.get("uri_prefix") == prefix_404 and r.get("status") == 404]
                seen |= {r["worker"] for r in hits}
                break
            hit = next((r for r in lines if r.get("kmsRequestId") == rid), None)
            if hit is not None:
                seen.add(hit["worker"])
                break
            time.sleep(0.01)
    return seen


def test_changes_reach_both_workers(tmp_path):
    gw = start_xks(tmp_path, workers=2)
    try:
        health = lambda rid: {"requestMetadata": meta("KmsHealthCheck", rid, key_op=False)}  # noqa: E731
        prefix = f"/late-{uuid.uuid4().hex[:6]}"
        early = XksClient(gw.base, prefix + "/kms/xks/v1", "A" * 24, "x")
        _workers_answering(gw, early, "health", health, 404, prefix_404=prefix)  # both cached "no such keystore"
        config = gw.cli("xks", "keystore", "create", "--uri-prefix", prefix, "--project-id", gw.project)
        client = gw.client(config)
        _workers_answering(gw, client, "health", health, 200)

        describe = lambda rid: {"requestMetadata": meta("DescribeKey", rid)}  # noqa: E731
        xks_key = f"late-key-{uuid.uuid4().hex[:6]}"
        _workers_answering(gw, client, f"keys/{xks_key}/metadata", describe, 404)  # both cached "no mapping"
        key_id = gw.new_key()
        gw.cli("xks", "key", "add", "--uri-prefix", prefix, "--key-id", key_id, "--xks-key-id", xks_key)
        _workers_answering(gw, client, f"keys/{xks_key}/metadata", describe, 200)
        gw.cli("xks", "key", "remove", "--uri-prefix", prefix, "--xks-key-id", xks_key)
        _workers_answering(gw, client, f"keys/{xks_key}/metadata", describe, 404)
    finally:
        stop(gw)


def _within(check, what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while not check():
        assert time.monotonic() < deadline, f"not within {BOUND_S} s: {what}"
        time.sleep(0.05)


@pytest.fixture
def two_nodes(pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    config = write_config(tmp_path / "kmsgw.toml", url, key_cache_seconds=30, sweep_interval_s=3600, drain_seconds=2)
    config.write_text(config.read_text() + "\n[xks]\nenabled = true\n")
    nodes = Nodes(tmp_path / "var", url, config)
    try:
        nodes.start("A")
        nodes.start("B")
        yield nodes
    finally:
        nodes.close()


def test_changes_reach_a_second_node_on_postgresql(two_nodes):
    nodes = two_nodes
    project = uuid.uuid4().hex
    token = nodes.token(project)
    health = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}
    prefix = f"/pg-{uuid.uuid4().hex[:6]}"

    def at(name: str, config: dict) -> XksClient:
        return XksClient.from_config(f"http://127.0.0.1:{nodes[name].http_port}", config)

    cold = {
        "XksProxyUriPath": prefix + "/kms/xks/v1",
        "XksProxyAuthenticationCredential": {"AccessKeyId": "A" * 24, "RawSecretAccessKey": "x"},
    }
    assert at("B", cold).post("health", health).error == "InvalidUriPathException"  # B cached "no such keystore"
    first = nodes.cli("xks", "keystore", "create", "--uri-prefix", prefix, "--project-id", project)
    _within(lambda: at("B", first).post("health", health).status == 200, "B sees the new keystore")
    rest = Rest(f"http://127.0.0.1:{nodes['A'].http_port}", project, token=token)
    try:
        key_id = rest.create_key()  # made through node A
    finally:
        rest.close()
    xks_key = "pg-key"
    describe = {"requestMetadata": meta("DescribeKey")}
    assert at("B", first).post(f"keys/{xks_key}/metadata", describe).error == "KeyNotFoundException"
    nodes.cli("xks", "key", "add", "--uri-prefix", prefix, "--key-id", key_id, "--xks-key-id", xks_key)
    _within(lambda: at("B", first).post(f"keys/{xks_key}/metadata", describe).status == 200, "B sees the mapping")
    sealed = at("A", first).post(f"keys/{xks_key}/encrypt", encrypt_body(b"across nodes")).body
    assert at("B", first).curl(f"keys/{xks_key}/decrypt", decrypt_body(sealed)).status == 200

    second = nodes.cli("xks", "credentials", "create", "--uri-prefix", prefix)
    _within(lambda: at("B", second).post("health", health).status == 200, "B accepts the new credential")
    old_key = first["XksProxyAuthenticationCredential"]["AccessKeyId"]
    nodes.cli("xks", "credentials", "delete", "--access-key-id", old_key)
    for name in ("A", "B"):
        _within(
            lambda n=name: at(n, first).post("health", health).status == 401, f"{name} refuses the deleted credential"
        )
        assert at(name, second).post(f"keys/{xks_key}/encrypt", encrypt_body(b"still")).status == 200
    nodes.cli("xks", "key", "remove", "--uri-prefix", prefix, "--xks-key-id", xks_key)
    _within(lambda: at("B", second).post(f"keys/{xks_key}/metadata", describe).status == 404, "B drops the mapping")
