"""Crash safety: reconciliation makes the store and the token agree again.

A crash can leave (a) a row still marked provisioning whose token object exists, (b) such a row
without an object, (c) a token object that no row knows. These tests build each state by hand
on the real SQLite store and SoftHSM2 token, then run the same reconcile start-up runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import grpc
import pytest

from gateway.core.auth import SEAL_KEY_LABEL
from gateway.core.model import KeyRecord, KeySpec, KeyState, KeyUsage
from gateway.core.ports.hsm import key_label
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.kms import NOT_FOUND, caller_for, expect_error, list_objects
from tests.support.serve import cli, start_serve


def provisioning_row(caller, key_alias: str) -> KeyRecord:
    return KeyRecord(
        key_id=str(uuid.uuid4()),
        project_id=caller.project_id,
        domain_id=caller.domain_id,
        key_alias=key_alias,
        key_description="",
        key_spec="AES_256",
        key_usage="ENCRYPT_DECRYPT",
        origin="kms",
        key_state=KeyState.ENABLED,
        creation_date=1_700_000_000_000,
        provisioning=True,
    )


def has_object(gateway, label: str) -> bool:
    return gateway.rt.executor.run_sync(lambda t: t.has_key(label))


def make_object(gateway, key_id: str, version: int = 1) -> None:
    gateway.rt.executor.run_sync(lambda t: t.generate_aes_key(key_label(key_id, version), key_id))


@pytest.fixture
def owner(gateway, project):
    project_id, kms = project
    return caller_for(gateway, gateway.token(project_id)), kms


def test_provisioning_row_with_object_is_finished(gateway, owner):
    caller, kms = owner
    rec = provisioning_row(caller, "half-made")
    gateway.rt.store.insert_key(rec)
    make_object(gateway, rec.key_id)
    # Before reconciliation the half-made key is invisible and unusable.
    expect_error(NOT_FOUND, "KMS.0207", kms.DescribeKey, pb.KeyIdRequest(key_id=rec.key_id))
    expect_error(NOT_FOUND, "KMS.0207", kms.CreateDataKey, pb.CreateDataKeyRequest(key_id=rec.key_id))
    assert kms.ListKeys(pb.ListKeysRequest()).total == 0

    report = gateway.call(gateway.rt.kms.reconcile())
    assert rec.key_id in report.finished
    assert rec.key_id not in report.removed_rows
    assert not [lbl for lbl in report.destroyed_orphans if lbl.startswith(rec.key_id)]

    info = kms.DescribeKey(pb.KeyIdRequest(key_id=rec.key_id)).key_info
    assert (info.key_alias, info.key_state) == ("half-made", 2)
    assert list(kms.ListKeys(pb.ListKeysRequest()).keys) == [rec.key_id]
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=rec.key_id))
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(key_id=rec.key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
    )
    assert out.data_key == dk.plain_text


def test_provisioning_row_without_object_is_removed(gateway, owner):
    caller, kms = owner
    rec = provisioning_row(caller, "never-made")
    gateway.rt.store.insert_key(rec)
    # The dangling row still holds its alias until reconciliation.
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, "KMS.1104", kms.CreateKey, pb.CreateKeyRequest(key_alias="never-made")
    )

    report = gateway.call(gateway.rt.kms.reconcile())
    assert rec.key_id in report.removed_rows
    assert gateway.rt.store.get_key_by_id(rec.key_id) is None
    expect_error(NOT_FOUND, "KMS.0207", kms.DescribeKey, pb.KeyIdRequest(key_id=rec.key_id))
    # The alias is free again.
    assert kms.CreateKey(pb.CreateKeyRequest(key_alias="never-made")).key_info.key_alias == "never-made"


def test_orphan_object_is_destroyed(gateway, owner, clock):
    _, kms = owner
    live = kms.CreateKey(pb.CreateKeyRequest(key_alias="live")).key_info.key_id
    orphan = str(uuid.uuid4())
    make_object(gateway, orphan, 1)
    make_object(gateway, orphan, 2)
    assert has_object(gateway, key_label(orphan, 1))

    report = gateway.call(gateway.rt.kms.reconcile())  # first seen: reported, kept for the grace period
    assert {key_label(orphan, 1), key_label(orphan, 2)} <= set(report.orphans)
    assert not set(report.destroyed_orphans) & {key_label(orphan, 1), key_label(orphan, 2)}
    assert has_object(gateway, key_label(orphan, 1))
    clock.advance(gateway.rt.config.orphan_grace_seconds + 1)
    report = gateway.call(gateway.rt.kms.reconcile())
    clock.reset()  # the caller's token would have expired
    assert {key_label(orphan, 1), key_label(orphan, 2)} <= set(report.destroyed_orphans)
    assert not has_object(gateway, key_label(orphan, 1))
    assert not has_object(gateway, key_label(orphan, 2))
    # Nothing known was touched: live keys and the gateway's own sealing key survive.
    assert has_object(gateway, key_label(live, 1))
    assert has_object(gateway, SEAL_KEY_LABEL)
    assert len(kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=live)).plain_text) == 32


def test_reconcile_is_idempotent(gateway, owner):
    _, kms = owner
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="steady")).key_info.key_id
    gateway.call(gateway.rt.kms.reconcile())
    report = gateway.call(gateway.rt.kms.reconcile())
    assert (report.finished, report.removed_rows, report.destroyed_orphans) == ([], [], [])
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 2


CRASH_SCRIPT = textwrap.dedent(
    """
    import json, sys, uuid
    from gateway.app import config
    from gateway.core.model import KeyRecord, KeyState
    from gateway.core.ports.hsm import key_label
    from gateway.app.runtime import Runtime

    rt = Runtime.open(config.load(None, data_dir=sys.argv[1]))
    project, domain = sys.argv[2], rt.store.project_domain(sys.argv[2])
    ids = {"finished": str(uuid.uuid4()), "removed": str(uuid.uuid4()), "orphan": str(uuid.uuid4())}
    for name in ("finished", "removed"):
        rt.store.insert_key(KeyRecord(ids[name], project, domain, name, "", "AES_256", "ENCRYPT_DECRYPT", "kms",
                                      KeyState.ENABLED, 1_700_000_000_000, provisioning=True))
    for name in ("finished", "orphan"):
        label = key_label(ids[name], 1)
        rt.executor.run_sync(lambda t, label=label, key_id=ids[name]: t.generate_aes_key(label, key_id))
    rt.close()
    print(json.dumps(ids))
    """
)


def test_serve_reconciles_on_start(tmp_path):
    """A crash left all three states in a data dir; the next `kmsgw serve` repairs them before serving."""
    data_dir = tmp_path / "var"
    project_id = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project_id)["token"]
    out = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(data_dir), project_id],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"},
    )
    ids = json.loads(out.stdout)
    labels = {o.get("label") for o in list_objects(data_dir)}
    assert {key_label(ids["finished"], 1), key_label(ids["orphan"], 1)} <= labels
    srv = start_serve(data_dir)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        stub = pb_grpc.KeyManagementServiceStub(channel)
        md = (("x-auth-token", token),)
        keys = stub.ListKeys(pb.ListKeysRequest(), metadata=md, timeout=30)
        assert list(keys.keys) == [ids["finished"]]
        dk = stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=ids["finished"]), metadata=md, timeout=30)
        assert len(dk.plain_text) == 32
        with pytest.raises(grpc.RpcError) as info:
            stub.DescribeKey(pb.KeyIdRequest(key_id=ids["removed"]), metadata=md, timeout=30)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        channel.close()
        labels = {o.get("label") for o in list_objects(data_dir)}
        assert key_label(ids["finished"], 1) in labels
        # The orphan is reported (count and labels) and kept for the grace period.
        assert key_label(ids["orphan"], 1) in labels
        reports = [rec for rec in srv.log_lines if rec.get("msg") == "orphan token objects"]
        assert reports and key_label(ids["orphan"], 1) in reports[0]["labels"]
        assert reports[0]["count"] >= 1 and reports[0]["level"] == "warning"
    finally:
        assert srv.terminate() == 0
    # A start with no grace period destroys it.
    config = tmp_path / "kmsgw.toml"
    config.write_text("[gateway]\norphan_grace_seconds = 0\n")
    srv = start_serve(data_dir, "--config", str(config))
    try:
        assert key_label(ids["orphan"], 1) not in {o.get("label") for o in list_objects(data_dir)}
        assert key_label(ids["finished"], 1) in {o.get("label") for o in list_objects(data_dir)}
    finally:
        assert srv.terminate() == 0


def test_fresh_provisioning_row_is_left_to_its_creator(gateway, owner, clock):
    """Another node may be generating this key right now: only a row older than
    provisioning_timeout_seconds is a crash's leftover."""
    caller, kms = owner
    rec = provisioning_row(caller, "in-flight")
    rec.creation_date = gateway.rt.kms.now_ms()
    gateway.rt.store.insert_key(rec)
    report = gateway.call(gateway.rt.kms.reconcile(at_start=False))  # the sweep's reconcile
    assert rec.key_id in report.in_flight
    assert gateway.rt.store.get_key_by_id(rec.key_id).provisioning
    make_object(gateway, rec.key_id)  # the creator finishes its object
    assert not [lbl for lbl in report.orphans if lbl.startswith(rec.key_id)]
    report = gateway.call(gateway.rt.kms.reconcile(at_start=False))
    assert not [lbl for lbl in report.orphans if lbl.startswith(rec.key_id)]  # its row exists: not an orphan
    clock.advance(gateway.rt.config.provisioning_timeout_seconds + 1)
    report = gateway.call(gateway.rt.kms.reconcile(at_start=False))
    assert rec.key_id in report.finished
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=rec.key_id)).key_info.key_state == 2


def test_fresh_pending_rotation_is_left_alone(gateway, owner, clock):
    _, kms = owner
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="rotating")).key_info.key_id
    assert gateway.rt.store.begin_key_version(key_id, 2, gateway.rt.kms.now_ms())
    report = gateway.call(gateway.rt.kms.reconcile(at_start=False))
    assert key_label(key_id, 2) not in report.removed_versions
    assert 2 in gateway.rt.store.key_versions(key_id)
    clock.advance(gateway.rt.config.provisioning_timeout_seconds + 1)
    report = gateway.call(gateway.rt.kms.reconcile(at_start=False))
    assert key_label(key_id, 2) in report.removed_versions
    assert gateway.rt.store.key_versions(key_id) == [1]


def test_creator_whose_row_was_dropped_does_not_acknowledge(gateway, owner, clock):
    """A creation slower than provisioning_timeout_seconds loses its row to a reconcile (as on a
    second node): the creator must answer an error and leave no object, never a key id that does not exist."""
    _, kms = owner
    hsm = gateway.rt.kms.hsm
    real = hsm.create_key

    async def slow_create(label: str, key_id: str, spec: KeySpec, usage: KeyUsage) -> None:
        clock.advance(gateway.rt.config.provisioning_timeout_seconds + 1)
        await gateway.rt.kms.reconcile(at_start=False)  # the row is stale and has no object yet: dropped
        await real(label, key_id, spec, usage)

    hsm.create_key = slow_create
    try:
        err = expect_error(grpc.StatusCode.INTERNAL, "KMS.0102", kms.CreateKey, pb.CreateKeyRequest(key_alias="slow"))
    finally:
        del hsm.create_key  # the class's method again
    assert err is not None
    assert kms.ListKeys(pb.ListKeysRequest()).total == 0
    labels = gateway.call(hsm.secret_key_labels())
    report = gateway.call(gateway.rt.kms.reconcile())
    assert report.orphans == [] or all(lbl in labels for lbl in report.orphans)
    assert kms.CreateKey(pb.CreateKeyRequest(key_alias="slow")).key_info.key_alias == "slow"


def test_orphans_are_reported_in_the_log(gateway, owner, caplog):
    orphan = str(uuid.uuid4())
    make_object(gateway, orphan, 1)
    with caplog.at_level("INFO", logger="gateway.core.housekeeping"):
        gateway.call(gateway.rt.kms.reconcile())
    records = [r for r in caplog.records if r.getMessage() == "orphan token objects"]
    assert records and key_label(orphan, 1) in records[-1].labels
    assert records[-1].count >= 1 and records[-1].levelname == "WARNING"
    assert key_label(orphan, 1) in records[-1].destroy_in_seconds
    # Seen again: still reported, at INFO (nothing new), and its first sighting is kept.
    caplog.clear()
    with caplog.at_level("INFO", logger="gateway.core.housekeeping"):
        gateway.call(gateway.rt.kms.reconcile())
    records = [r for r in caplog.records if r.getMessage() == "orphan token objects"]
    assert records[-1].levelname in ("INFO", "WARNING") and key_label(orphan, 1) in records[-1].labels
    assert has_object(gateway, key_label(orphan, 1))


def test_start_up_on_an_unshared_store_settles_fresh_rows(gateway, owner):
    """SQLite: at start-up nobody else can be writing, so a fresh in-flight row is a crash's leftover
    (else a crashed rotation would block the key's next rotation for provisioning_timeout_seconds)."""
    caller, _ = owner
    rec = provisioning_row(caller, "fresh-leftover")
    rec.creation_date = gateway.rt.kms.now_ms()
    gateway.rt.store.insert_key(rec)
    assert gateway.rt.store.shared is False
    report = gateway.call(gateway.rt.kms.reconcile())
    assert rec.key_id in report.removed_rows


def test_serve_claim_tells_a_lone_serve_from_a_second_one(tmp_path):
    """Start-up reconciliation settles every in-flight row only in a serve that is alone on its
    data dir: a second serve (sharing the SQLite store) must leave fresh rows to their maker."""
    from gateway.app.first_start import serve_claim

    with serve_claim(tmp_path) as first:
        assert first
    with serve_claim(tmp_path) as second:  # the first still holds its shared lock
        assert not second
