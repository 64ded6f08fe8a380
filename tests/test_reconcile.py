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
from gateway.core.model import KeyRecord, KeyState
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.hsm.port import key_label
from tests.conftest import cli, start_serve
from tests.kms_helpers import NOT_FOUND, caller_for, expect_error, list_objects


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


def test_orphan_object_is_destroyed(gateway, owner):
    _, kms = owner
    live = kms.CreateKey(pb.CreateKeyRequest(key_alias="live")).key_info.key_id
    orphan = str(uuid.uuid4())
    make_object(gateway, orphan, 1)
    make_object(gateway, orphan, 2)
    assert has_object(gateway, key_label(orphan, 1))

    report = gateway.call(gateway.rt.kms.reconcile())
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
    from gateway import config
    from gateway.core.model import KeyRecord, KeyState
    from gateway.hsm.port import key_label
    from gateway.runtime import Runtime

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
        assert key_label(ids["orphan"], 1) not in labels
    finally:
        assert srv.terminate() == 0
