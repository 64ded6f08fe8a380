"""64 concurrent callers per transport on every hot operation of a real ``kmsgw serve --workers 2``.

Each caller cycles through the hot operations (data keys with and without plaintext, encrypt /
decrypt of data keys and of data, random bytes, and the batch calls), checking every answer: a
data key decrypts back to itself, data decrypts back to what was sealed. The callers run in one
driver process per transport (``benchmarks/callers64.py``, shared with the benchmark scenario), so
the pytest process is not the bottleneck and grpc.aio does not share a loop. Pass: zero errors, no
worker died (same pids, no replacement logged, health still SERVING), and the workers' summed RSS
after the load within a generous bound of what it was after the warm-up.

CI runs about 12 s of load; ``pytest -m soak tests/system/test_load.py`` (``make soak``) runs 60 s.
The figures of a quiet machine are in benchmarks/RESULTS.md (``gateway.load_64_callers``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.callers64 import HOT_GRPC, HOT_REST
from tests.support.serve import ServeProcess, cli, start_serve

CALLERS = 64  # per transport
WARMUP_S = 3.0
CI_SECONDS = 12.0
SOAK_SECONDS = 60.0
RSS_GROWTH_LIMIT = 0.5  # after / after-warm-up: at most +50 % ...
RSS_SLACK_KIB = 64 * 1024  # ... or +64 MiB, whichever is larger (allocator arenas settle slowly)
REPO = Path(__file__).resolve().parents[2]


# -- the server ---------------------------------------------------------------------------------
@dataclass
class Server:
    srv: ServeProcess
    token: str
    project: str
    key_id: str

    def worker_pids(self) -> list[int]:
        """The spawned worker processes (children of the ``serve`` parent)."""
        kids = Path(f"/proc/{self.srv.proc.pid}/task/{self.srv.proc.pid}/children").read_text().split()
        return sorted(int(pid) for pid in kids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes())

    def rss_kib(self) -> int:
        total = 0
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def restarts(self) -> int:
        return sum(1 for line in self.srv.log_lines if "died" in str(line.get("msg", "")))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("load") / "var"
    project = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project)["token"]
    srv = start_serve(data_dir, "--workers", "2")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.http_port}", trust_env=False, timeout=30) as http:
            resp = http.post(
                f"/v1.0/{project}/kms/create-key", json={"key_alias": "load"}, headers={"X-Auth-Token": token}
            )
        assert resp.status_code == 200, resp.text
        yield Server(srv, token, project, resp.json()["key_info"]["key_id"])
    finally:
        code = srv.terminate()
        errors = [line for line in srv.log_lines if line.get("level") in ("ERROR", "CRITICAL")]
        assert not errors, errors[:5]
        assert code == 0


# -- the load: one driver process per transport (benchmarks/callers64.py) -----------------------
def _start_driver(s: Server, transport: str, token_file: Path, seconds: float) -> subprocess.Popen:
    port = s.srv.grpc_port if transport == "grpc" else s.srv.http_port
    argv = [
        sys.executable, "-m", "benchmarks.callers64", "--transport", transport, "--port", str(port),
        "--token-file", str(token_file), "--project-id", s.project, "--key-id", s.key_id,
        "--seconds", str(seconds), "--warmup", str(WARMUP_S), "--callers", str(CALLERS), "--wait",
    ]  # fmt: skip
    return subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _run_load(s: Server, seconds: float, tmp_path: Path) -> None:
    pids = s.worker_pids()
    assert len(pids) == next(r["workers"] for r in s.srv.log_lines if r.get("msg") == "serving"), pids
    token_file = tmp_path / "token"
    token_file.write_text(s.token)
    token_file.chmod(0o600)
    drivers = {t: _start_driver(s, t, token_file, seconds) for t in ("grpc", "rest")}
    try:
        for proc in drivers.values():
            assert proc.stdout is not None and proc.stdout.readline().strip() == "warm"
        before = s.rss_kib()  # after the warm-up: allocator arenas, caches and connections are in place
        for proc in drivers.values():
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = {
            t: json.loads(proc.communicate(timeout=seconds + 180)[0].splitlines()[-1]) for t, proc in drivers.items()
        }
    finally:
        for proc in drivers.values():
            if proc.poll() is None:
                proc.kill()
    after = s.rss_kib()

    for t, r in results.items():
        rate = sum(r["ops"].values()) / r["seconds"]
        print(f"\n{t}: {rate:,.0f} ops/s, step p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms, {r['ops']}")
    print(f"worker RSS: {before / 1024:.1f} -> {after / 1024:.1f} MiB")

    assert all(r["errors"] == 0 for r in results.values()), {t: r["first_errors"][:5] for t, r in results.items()}
    assert set(results["grpc"]["ops"]) == HOT_GRPC and set(results["rest"]["ops"]) == HOT_REST, results
    assert s.worker_pids() == pids and s.restarts() == 0, "a worker died under load"
    assert after <= max(before * (1 + RSS_GROWTH_LIMIT), before + RSS_SLACK_KIB), (before, after)
    with grpc.insecure_channel(f"127.0.0.1:{s.srv.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_64_callers_per_transport_on_every_hot_operation(server: Server, tmp_path: Path) -> None:
    _run_load(server, CI_SECONDS, tmp_path)


@pytest.mark.soak
def test_64_callers_per_transport_for_a_minute(server: Server, tmp_path: Path) -> None:
    _run_load(server, SOAK_SECONDS, tmp_path)
