"""Concurrent first start: several `kmsgw serve` and CLI commands at once on an EMPTY data dir make
one token, one set of PINs and one sealing key, and every process serves from them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import pytest

from gateway.core.auth import SEAL_KEY_LABEL
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.hsm.softhsm import DEFAULT_TOKEN_LABEL, ensure_softhsm, token_labels
from tests.support.node import run_cli, secret_key_labels, stub, write_config
from tests.support.rest import Rest
from tests.support.serve import start_serve


@pytest.fixture(params=["sqlite", "postgresql"])
def store_args(request, tmp_path) -> list[str]:
    """No option (the data dir's SQLite file), or ``--config`` naming a fresh, empty PostgreSQL database."""
    if request.param == "sqlite":
        return []
    return ["--config", str(write_config(tmp_path / "kmsgw.toml", store=request.getfixturevalue("pg_url")))]


def test_three_servers_and_two_commands_at_once_share_one_token(tmp_path, store_args):
    data_dir = tmp_path / "var"
    assert not data_dir.exists()
    project = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=5) as pool:
        serving = [pool.submit(start_serve, data_dir, "--workers", "1", *store_args, timeout=180) for _ in range(3)]
        made_token = pool.submit(run_cli, data_dir, "token", "create", "--project-id", project, *store_args)
        made_cred = pool.submit(run_cli, data_dir, "credentials", "create", "--project-id", project, *store_args)
    nodes = [f.result() for f in serving if f.exception() is None]  # stopped below whatever happens
    channels: list[grpc.Channel] = []
    try:
        for f in serving:
            f.result()  # a server that did not start fails the test here
        token, cred = made_token.result()["token"], made_cred.result()
        # One token with the label, one set of PINs (owner-only), nothing half-made left behind.
        conf = data_dir / "softhsm2.conf"
        assert token_labels(conf) == [DEFAULT_TOKEN_LABEL]
        assert len(list((data_dir / "tokens").iterdir())) == 1
        for name in ("hsm.pin", "so.pin"):
            assert (data_dir / name).stat().st_mode & 0o777 == 0o600
        assert not list(data_dir.glob("*.partial"))
        inits = [r for n in nodes for r in n.log_lines if r.get("msg") == "initialized SoftHSM2 token"]
        assert len(inits) <= 1  # the CLI commands log at WARNING: one of them may have been first
        assert secret_key_labels(data_dir).count(SEAL_KEY_LABEL) == 1

        # A key created through one node is usable through the others at once.
        a, b, c = (stub(n.grpc_port, token, channels) for n in nodes)
        key_id = a.CreateKey(pb.CreateKeyRequest(key_alias="first-start")).key_info.key_id
        dk = b.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
        back = c.DecryptDataKey(
            pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
        )
        assert back.data_key == dk.plain_text

        # The credentials made by the concurrent CLI command (sealed with the one sealing key) sign on every node.
        for n in nodes:
            rest = Rest(f"http://127.0.0.1:{n.http_port}", project, creds=cred)
            try:
                assert rest.ok("/describe-key", {"key_id": key_id})["key_info"]["key_id"] == key_id
            finally:
                rest.close()
            assert httpx.get(f"http://127.0.0.1:{n.http_port}/healthz", timeout=10).status_code == 200
    finally:
        for ch in channels:
            ch.close()
        codes = [n.terminate() for n in nodes]
        assert codes == [0] * len(nodes)


def test_a_first_start_killed_after_writing_the_pins_is_finished_by_the_next(tmp_path):
    """PINs written, token initialized, process gone before the rename: the next start completes it."""
    data_dir = tmp_path / "var"
    ensure_softhsm(data_dir)
    os.rename(data_dir / "hsm.pin", data_dir / "hsm.pin.partial")  # the state at the crash
    os.rename(data_dir / "so.pin", data_dir / "so.pin.partial")
    node = start_serve(data_dir, "--workers", "1")
    try:
        assert token_labels(data_dir / "softhsm2.conf") == [DEFAULT_TOKEN_LABEL]
        assert any(r.get("msg") == "initialized SoftHSM2 token" and r.get("resumed") for r in node.log_lines)
        assert (data_dir / "hsm.pin").exists() and not list(data_dir.glob("*.partial"))
    finally:
        assert node.terminate() == 0


def test_a_token_without_its_pin_file_is_not_silently_replaced(tmp_path):
    data_dir = tmp_path / "var"
    ensure_softhsm(data_dir)
    (data_dir / "hsm.pin").unlink()
    env = dict(os.environ)
    env.pop("SOFTHSM2_CONF", None)
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "token", "create", "--project-id", "p", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode != 0
    assert "hsm.pin" in out.stderr and "is missing" in out.stderr
    assert token_labels(data_dir / "softhsm2.conf") == [DEFAULT_TOKEN_LABEL]  # no second token


def test_token_emptied_by_a_crash_is_restored(tmp_path):
    """SoftHSM2 rewrites token.object in place at every login; a kill -9 in between leaves it
    empty and the token (and every key) gone. The copy taken at first start brings it back."""
    from tests.support.serve import GrpcClient, cli

    data_dir = tmp_path / "var"
    token = cli(data_dir, "token", "create", "--project-id", "p-crash")["token"]
    [obj] = (data_dir / "tokens").glob("*/token.object")
    assert (data_dir / "token-backups" / f"{obj.parent.name}.token.object").stat().st_size > 0  # taken at first start
    srv = start_serve(data_dir, "--workers", "1")
    try:
        kms = GrpcClient(srv.grpc_port, token)
        key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="survivor")).key_info.key_id
        made = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
        kms.close()
    finally:
        assert srv.terminate() == 0
    obj.write_bytes(b"")  # what a kill -9 in the middle of SoftHSM2's rewrite leaves
    srv = start_serve(data_dir, "--workers", "1")
    try:
        kms = GrpcClient(srv.grpc_port, token)
        out = kms.DecryptDataKey(
            pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=made.cipher_text, datakey_cipher_length=32)
        )
        assert out.data_key == made.plain_text
        kms.close()
    finally:
        assert srv.terminate() == 0
    assert any(rec.get("msg", "").startswith("token.object was empty") for rec in srv.log_lines)
