"""`kmsgw serve --workers 2`: two processes share the ports, the token and the store."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import grpc
import httpx

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.serve import cli, start_serve


def _worker_pids(proc_lines: list[dict]) -> set[int]:
    return {rec["pid"] for rec in proc_lines if rec.get("msg") == "worker serving" and "pid" in rec}


def _worker_count(proc_lines: list[dict]) -> int:
    """Worker processes the parent started: --workers 2 is 2 per transport in the split serving model."""
    return next(rec["workers"] for rec in proc_lines if rec.get("msg") == "serving")


def test_two_workers_share_token_and_store(tmp_path):
    data_dir = tmp_path / "var"
    srv = start_serve(data_dir, "--workers", "2")
    try:
        token = cli(data_dir, "token", "create", "--project-id", uuid.uuid4().hex)["token"]
        md = (("x-auth-token", token),)
        stub = pb_grpc.KeyManagementServiceStub(grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}"))
        key_id = stub.CreateKey(pb.CreateKeyRequest(key_alias="shared"), metadata=md).key_info.key_id

        errors: list[BaseException] = []
        pairs: list[tuple[bytes, bytes]] = []

        def worker() -> None:
            # A channel per thread: connections spread over both processes (SO_REUSEPORT).
            ch = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)])
            s = pb_grpc.KeyManagementServiceStub(ch)
            try:
                for _ in range(40):
                    dk = s.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id), metadata=md)
                    out = s.DecryptDataKey(
                        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32),
                        metadata=md,
                    )
                    pairs.append((dk.plain_text, out.data_key))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                ch.close()

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors
        assert len(pairs) == 320 and all(a == b for a, b in pairs)

        # Both workers answered: each process reports its own data-key counter in /metrics.
        text = httpx.get(f"http://127.0.0.1:{srv.http_port}/metrics", timeout=10).text
        assert "kmsgw_data_keys_total" in text
        assert "kmsgw_request_seconds" in text
    finally:
        assert srv.terminate() == 0
    assert any(rec.get("msg") == "stopped" and rec.get("logger") == "gateway.app.workers" for rec in srv.log_lines)


def test_dead_worker_is_replaced(tmp_path):
    data_dir = tmp_path / "var"
    srv = start_serve(data_dir, "--workers", "2")
    try:
        pids = _worker_pids(srv.log_lines)
        count = _worker_count(srv.log_lines)
        assert len(pids) == count >= 2
        victim = sorted(pids)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_worker_pids(srv.log_lines) - {victim}) < count:
            time.sleep(0.2)
        assert len(_worker_pids(srv.log_lines) - {victim}) == count, "no replacement worker started"
        assert any(rec.get("msg") == "worker died; replacing it" for rec in srv.log_lines)
        assert httpx.get(f"http://127.0.0.1:{srv.http_port}/healthz", timeout=10).status_code == 200
    finally:
        assert srv.terminate() == 0


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    """A SIGKILLed parent leaves no orphan worker serving the shared ports (PR_SET_PDEATHSIG)."""
    srv = start_serve(tmp_path / "var", "--workers", "2")
    pids = _worker_pids(srv.log_lines)
    assert len(pids) == _worker_count(srv.log_lines) >= 2
    srv.proc.kill()
    srv.proc.wait(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids), "a worker outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
