"""`kmsgw serve` as its own process: restart on the same data dir, SIGTERM, secrets out of logs,
and the command exactly as the README gives it (health, metrics, reflection)."""

from __future__ import annotations

import base64
import collections
import functools
import hashlib
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import dek_plain, free_port
from tests.support.serve import GrpcClient, ServeProcess, cli, start_serve

REPO = Path(__file__).resolve().parents[2]
SERVICE = "kms.v1.KeyManagementService"
CTX = {"app": "restart"}


Client = functools.partial(GrpcClient, timeout=30)


def wait_for_log(srv: ServeProcess, msg: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in list(srv.log_lines):
            if rec.get("msg") == msg:
                return rec
        time.sleep(0.05)
    raise AssertionError(f"no {msg!r} log line in {srv.log_lines[-20:]}")


def test_restart_keeps_keys_and_ciphertexts(tmp_path):
    data_dir = tmp_path / "var"
    project_id = uuid.uuid4().hex
    srv = start_serve(data_dir, "--log-level", "DEBUG")
    secrets: list[str] = []
    try:
        creds = cli(data_dir, "credentials", "create", "--project-id", project_id)
        token = cli(data_dir, "token", "create", "--project-id", project_id)["token"]
        secrets += [creds["secret_key"], token]
        kms = Client(srv.grpc_port, token)
        key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="survivor")).key_info.key_id
        data = kms.EncryptData(
            pb.EncryptDataRequest(key_id=key_id, plain_text=b"kept across restarts", encryption_context=CTX)
        )
        dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context=CTX))
        own_dek = os.urandom(32)
        wrapped = kms.EncryptDataKey(
            pb.EncryptDataKeyRequest(key_id=key_id, plain_text=dek_plain(own_dek), datakey_plain_length=32)
        )
        batch = kms.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=5))
        kms.close()
    finally:
        rc = srv.terminate()
    assert rc == 0
    wait_for_log(srv, "stopped")
    first_logs = list(srv.log_lines)

    srv2 = start_serve(data_dir, "--log-level", "DEBUG")
    try:
        kms = Client(srv2.grpc_port, token)
        info = kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
        assert (info.key_alias, info.key_state) == ("survivor", 2)
        assert list(kms.ListKeys(pb.ListKeysRequest()).keys) == [key_id]
        out = kms.DecryptData(pb.DecryptDataRequest(cipher_text=data.cipher_text, encryption_context=CTX))
        assert out.plain_text == b"kept across restarts"
        got = kms.DecryptDataKey(
            pb.DecryptDataKeyRequest(
                key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32, encryption_context=CTX
            )
        )
        assert got.data_key == dk.plain_text
        got = kms.DecryptDataKey(
            pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=wrapped.cipher_text, datakey_cipher_length=32)
        )
        assert got.data_key == own_dek
        back = kms.BatchDecryptDataKey(
            pb.BatchDecryptDataKeyRequest(
                items=[
                    pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=r.cipher_text, datakey_cipher_length=32)
                    for r in batch.results
                ]
            )
        )
        assert [r.data_key for r in back.results] == [r.plain_text for r in batch.results]
        kms.close()
    finally:
        rc2 = srv2.terminate()
    assert rc2 == 0
    wait_for_log(srv2, "stopped")

    # PIN files are owner-only.
    for name in ("hsm.pin", "so.pin"):
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    # No PIN, secret key, token or data-key plaintext in either process's logs.
    logs = "\n".join(json.dumps(rec) for rec in first_logs + srv2.log_lines)
    assert "serving" in logs and "stopped" in logs
    for name in ("hsm.pin", "so.pin"):
        secrets.append((data_dir / name).read_text().strip())
    for dek in [dk.plain_text, own_dek, *(r.plain_text for r in batch.results)]:
        secrets += [dek.hex(), base64.b64encode(dek).decode(), repr(dek)[2:-1][:40]]
    secrets.append("kept across restarts")
    leaked = [s for s in secrets if s and s in logs]
    assert not leaked, leaked


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_under_load_exits_zero(tmp_path, sig):
    """Stopping while callers hammer it: exit 0, and no call ends in INTERNAL or a wrong answer."""
    data_dir = tmp_path / "var"
    srv = start_serve(data_dir)
    token = cli(data_dir, "token", "create", "--project-id", "load")["token"]
    kms = Client(srv.grpc_port, token)
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="load")).key_info.key_id
    kms.close()
    codes: collections.Counter[str] = collections.Counter()
    wrong: list[str] = []
    done = threading.Event()

    def hammer() -> None:
        client = Client(srv.grpc_port, token)
        while not done.is_set():
            try:
                dk = client.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
                out = client.DecryptDataKey(
                    pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
                )
                codes["OK"] += 1
                if out.data_key != dk.plain_text:
                    wrong.append("decrypted key differs")
            except grpc.RpcError as exc:
                codes[exc.code().name] += 1
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    time.sleep(0.02)
        client.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while codes["OK"] < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
        srv.proc.send_signal(sig)
        rc = srv.proc.wait(60)
    finally:
        done.set()
        for t in threads:
            t.join(30)
        if srv.proc.poll() is None:
            srv.proc.kill()
    assert rc == 0
    wait_for_log(srv, "draining")
    wait_for_log(srv, "stopped")
    assert codes["OK"] >= 50 and not wrong
    assert set(codes) <= {"OK", "UNAVAILABLE", "CANCELLED"}, codes


def test_serve_as_the_readme_says(tmp_path, monkeypatch):
    """`.venv/bin/kmsgw serve` from a fresh directory: default data dir ./var, given listen ports."""
    grpc_port, http_port = free_port(), free_port()
    kmsgw = REPO / ".venv" / "bin" / "kmsgw"
    assert kmsgw.exists()
    monkeypatch.chdir(tmp_path)
    argv = [str(kmsgw), "serve", "--grpc-listen", f"127.0.0.1:{grpc_port}", "--rest-listen", f"127.0.0.1:{http_port}"]
    srv = start_serve(tmp_path / "var", argv=argv)
    try:
        assert (srv.grpc_port, srv.http_port) == (grpc_port, http_port)
        for name in ("softhsm2.conf", "hsm.pin", "so.pin", "kms.db"):
            assert (tmp_path / "var" / name).exists(), name
        assert (tmp_path / "var" / "hsm.pin").stat().st_mode & 0o777 == 0o600

        health = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=10)
        assert health.status_code == 200 and health.json().get("status") == "ok"
        metrics = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=10)
        assert metrics.status_code == 200
        assert "kmsgw_hsm_heals_total" in metrics.text and "kmsgw_request_seconds" in metrics.text

        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        try:
            hstub = health_pb2_grpc.HealthStub(channel)
            for service in ("", SERVICE):
                res = hstub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                assert res.status == health_pb2.HealthCheckResponse.SERVING, service
            services = ProtoReflectionDescriptorDatabase(channel).get_services()
            assert SERVICE in services and "grpc.health.v1.Health" in services
            # The reflected descriptor is the real one: it lists the service's methods.
            pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
            methods = {m.name for m in pool.FindServiceByName(SERVICE).methods}
            assert {"CreateKey", "CreateDataKey", "DecryptDataKey", "BatchDecryptDataKey"} <= methods
        finally:
            channel.close()

        # And it serves the API with a token made by the README's CLI line.
        token = cli(tmp_path / "var", "token", "create", "--project-id", "readme-project")["token"]
        kms = Client(grpc_port, token)
        key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias="readme")).key_info.key_id
        dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
        assert hashlib.sha256(dk.plain_text).digest() == (
            kms.DecryptDataKey(
                pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
            ).datakey_digest
        )
        kms.close()
    finally:
        assert srv.terminate() == 0
