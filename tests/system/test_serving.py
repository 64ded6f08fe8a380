"""The serving model under both transports at once, on real `kmsgw serve --workers 2` processes.

No transport may starve the other (docs/architecture.md, "Serving model"): with gRPC and REST
driven together, each must finish work in every second of the window, with no error and every
data key decrypting back to itself. The load is ``benchmarks/mixed_driver.py`` (the driver of the
``gateway.mixed_fairness`` benchmark row), one process per transport. Then the life cycle every
model must keep: SIGTERM under mixed load drains both listeners (calls in flight when the
signal lands complete), and workers killed are replaced and serve both transports again.
The rates themselves are benchmark rows, never asserted here.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.serve import GrpcClient, ServeProcess, cli, start_serve

REPO = Path(__file__).resolve().parents[2]
MODELS = ("shared", "split")
LOAD_SECONDS = 4.0
THREADS = 4  # per transport


@dataclass
class Gateway:
    srv: ServeProcess
    token: str
    project: str
    key_id: str
    token_file: Path

    def worker_pids(self) -> set[int]:
        return {rec["pid"] for rec in self.srv.log_lines if rec.get("msg") == "worker serving"}


def _start(tmp_path: Path, *extra: str) -> Gateway:
    data_dir = tmp_path / "var"
    project = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project)["token"]
    srv = start_serve(data_dir, "--workers", "2", *extra)
    client = GrpcClient(srv.grpc_port, token)
    try:
        key_id = client.CreateKey(pb.CreateKeyRequest(key_alias="serving")).key_info.key_id
    finally:
        client.close()
    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    return Gateway(srv, token, project, key_id, token_file)


@pytest.fixture
def started() -> Iterator[list[Gateway]]:
    """Gateways a test starts; any still running at the end are stopped, and must exit 0."""
    gateways: list[Gateway] = []
    yield gateways
    for gw in gateways:
        if gw.srv.proc.poll() is None:
            assert gw.srv.terminate() == 0


def _driver(gw: Gateway, transport: str, start_at: float, seconds: float) -> subprocess.Popen[str]:
    port = gw.srv.grpc_port if transport == "grpc" else gw.srv.http_port
    argv = [
        sys.executable, "-m", "benchmarks.mixed_driver", "--transport", transport, "--port", str(port),
        "--token-file", str(gw.token_file), "--project-id", gw.project, "--key-id", gw.key_id,
        "--threads", str(THREADS), "--start-at", f"{start_at:.6f}", "--seconds", str(seconds), "--verify",
    ]  # fmt: skip
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)


def _assert_both_serving(gw: Gateway) -> None:
    """Health per transport: gRPC's Health service and /healthz on the HTTP listener."""
    with grpc.insecure_channel(f"127.0.0.1:{gw.srv.grpc_port}") as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    assert httpx.get(f"http://127.0.0.1:{gw.srv.http_port}/healthz", timeout=10, trust_env=False).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_both_transports_progress_every_second_with_correct_answers(
    tmp_path: Path, started: list[Gateway], model: str
) -> None:
    gw = _start(tmp_path, "--serving-model", model)
    started.append(gw)
    start_at = time.monotonic() + 2.5  # the drivers import, connect and warm up first
    drivers = {t: _driver(gw, t, start_at, LOAD_SECONDS) for t in ("grpc", "rest")}
    results = {t: json.loads(p.communicate(timeout=120)[0].splitlines()[-1]) for t, p in drivers.items()}
    for t, r in results.items():
        print(f"\n{model} {t}: {r['rate']:,.0f} steps/s, per second {r['per_second']}, p99 {r['p99_ms']} ms")
    for t, r in results.items():
        assert r["errors"] == 0, (t, r["first_errors"])
        assert len(r["per_second"]) == int(LOAD_SECONDS) and all(r["per_second"]), (t, r["per_second"])
    _assert_both_serving(gw)
    assert not any(rec.get("msg") == "worker died; replacing it" for rec in gw.srv.log_lines)


# -- SIGTERM under mixed load -----------------------------------------------------------------
@dataclass
class Calls:
    """(sent, finished, outcome) of every call of one transport; outcome "ok" or why it failed."""

    done: list[tuple[float, float, str]] = field(default_factory=list)


def _grpc_caller(gw: Gateway, calls: Calls, stop: threading.Event) -> None:
    # A connection of its own (not the process's shared subchannel): the callers spread over the workers.
    channel = grpc.insecure_channel(f"127.0.0.1:{gw.srv.grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)])
    stub = pb_grpc.KeyManagementServiceStub(channel)
    md = (("x-auth-token", gw.token),)
    while not stop.is_set():
        sent = time.monotonic()
        try:
            dk = stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=gw.key_id), metadata=md, timeout=30)
            outcome = "ok" if len(dk.plain_text) == 32 and dk.cipher_text else "wrong answer"
        except grpc.RpcError as exc:
            outcome = exc.code().name
            time.sleep(0.05)
        calls.done.append((sent, time.monotonic(), outcome))
    channel.close()


def _rest_caller(gw: Gateway, calls: Calls, stop: threading.Event) -> None:
    body = json.dumps({"key_id": gw.key_id, "datakey_length": "256"})
    headers = {"X-Auth-Token": gw.token, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", gw.srv.http_port, timeout=30)
    while not stop.is_set():
        sent = time.monotonic()
        try:
            conn.request("POST", f"/v1.0/{gw.project}/kms/create-datakey", body, headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            outcome = "ok" if response.status == 200 and len(answer["plain_text"]) == 64 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            conn.close()
            time.sleep(0.05)
        calls.done.append((sent, time.monotonic(), outcome))
    conn.close()


def test_sigterm_under_mixed_load_drains_both_listeners(tmp_path: Path, started: list[Gateway]) -> None:
    """Every call sent before SIGTERM completes with an answer; after it, calls may be refused."""
    config = tmp_path / "slow.toml"
    # Every token job waits 300 ms for company: calls stay in flight long enough for the signal to
    # land in the middle of them (the parent forwards SIGTERM to its workers within 0.2 s).
    config.write_text("[hsm]\nbatch_window_ms = 300\n")
    gw = _start(tmp_path, "--config", str(config))
    started.append(gw)
    calls = {"grpc": Calls(), "rest": Calls()}
    stop = threading.Event()
    threads = [
        threading.Thread(target=target, args=(gw, calls[t], stop), daemon=True)
        for t, target in (("grpc", _grpc_caller), ("rest", _rest_caller))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(sum(o == "ok" for *_, o in c.done) >= 8 for c in calls.values()):
        time.sleep(0.05)
    signalled = time.monotonic()
    gw.srv.proc.send_signal(signal.SIGTERM)
    try:
        code = gw.srv.proc.wait(60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert code == 0
    for t, c in calls.items():
        before = [(sent, end, outcome) for sent, end, outcome in c.done if sent < signalled]
        assert before and all(outcome == "ok" for *_, outcome in before), (t, [o for *_, o in before if o != "ok"])
        in_flight = [1 for sent, end, _ in before if end > signalled]
        assert in_flight, f"{t}: no call was in flight when SIGTERM landed"
    workers = gw.worker_pids()
    stopped = [
        rec for rec in gw.srv.log_lines if rec.get("msg") == "stopped" and rec.get("logger") == "gateway.app.server"
    ]
    assert len(stopped) == len(workers), (len(stopped), workers)  # every worker drained its listeners and stopped


def test_killed_workers_are_replaced_and_serve_both_transports(tmp_path: Path, started: list[Gateway]) -> None:
    gw = _start(tmp_path)
    started.append(gw)
    first = gw.worker_pids()
    for pid in first:  # every worker: only replacements can answer afterwards
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(gw.worker_pids() - first) < len(first):
        time.sleep(0.2)
    assert len(gw.worker_pids() - first) == len(first), "not every worker was replaced"
    client = GrpcClient(gw.srv.grpc_port, gw.token)
    try:
        dk = client.CreateDataKey(pb.CreateDataKeyRequest(key_id=gw.key_id))
    finally:
        client.close()
    rest = httpx.post(
        f"http://127.0.0.1:{gw.srv.http_port}/v1.0/{gw.project}/kms/decrypt-datakey",
        json={"key_id": gw.key_id, "cipher_text": dk.cipher_text.hex(), "datakey_cipher_length": "32"},
        headers={"X-Auth-Token": gw.token},
        timeout=30,
        trust_env=False,
    )
    assert rest.status_code == 200, rest.text
    assert bytes.fromhex(rest.json()["data_key"]) == dk.plain_text
    _assert_both_serving(gw)


def test_an_unknown_serving_model_is_refused_at_start(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[serve]\nmodel = "one-loop-please"\n')
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--data-dir", str(tmp_path / "var")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert out.returncode == 2
    assert "[serve] model must be one of shared, split" in out.stdout + out.stderr


def test_the_removed_threads_model_is_refused_at_start_saying_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--data-dir", str(tmp_path / "var"), "--serving-model", "threads"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert out.returncode == 2 and "invalid choice: 'threads'" in out.stderr
    config = tmp_path / "threads.toml"
    config.write_text('[serve]\nmodel = "threads"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--data-dir", str(tmp_path / "var")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert out.returncode == 2 and "[serve] model 'threads': it was removed" in out.stdout + out.stderr
