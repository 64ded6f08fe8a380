"""The test kit's speed (docs/testing-with-kmsgw.md): what a test suite waits for, next to moto.

- ``testkit.cold_start``: a fresh Python process, from the first fixture request to the first data
  key: the plugin's subprocess mode (a `kmsgw dev` child, its ready line, a project, a key, a data
  key), its in-process mode, and moto's threaded server with boto3 (CreateKey, GenerateDataKey)
  measured the same way in the same run. Each process is timed from inside (interpreter start-up
  is the same for all three and is not counted). Target: <= 1 s.
- ``testkit.kms_project``: one ``kms_project`` (a project, a token, an AK/SK pair: one control
  call) against a running subprocess gateway. Target: <= 20 ms.
- ``testkit.xdist_overhead``: ``pytest -n 2`` of 40 tests that each take ``kms_project``, minus the
  same 40 tests without it: what the plugin adds to a parallel run (two gateways started, forty
  projects, the gateways stopped). Target: <= 2 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Context, Result, Skip, scenario

_SUBPROCESS = """
import json, os, sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
from gateway.testing.launcher import ChildGateway
from gateway.testing.handle import KmsGateway
child = ChildGateway(Path(tempfile.mkdtemp()), [], watch_pid=os.getpid())
child.spawn()
import gateway.client  # as the plugin does: grpc loads while the child starts
info = child.wait_ready(60)
ready = time.perf_counter()
gw = KmsGateway(info, mode="subprocess")
client = gw.new_project().client()
client.create_data_key(client.create_key("bench").key_id)
done = time.perf_counter()
gw.close(); child.stop()
print(json.dumps({"total": done - t0, "ready": ready - t0}))
"""

_INPROCESS = """
import json, sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
from gateway.testing import inprocess
gw = inprocess.start(Path(tempfile.mkdtemp()), {}, 60)
ready = time.perf_counter()
client = gw.new_project().client()
client.create_data_key(client.create_key("bench").key_id)
done = time.perf_counter()
gw.close()
print(json.dumps({"total": done - t0, "ready": ready - t0}))
"""

_MOTO = """
import json, time
t0 = time.perf_counter()
import boto3
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
ready = time.perf_counter()
kms = boto3.client("kms", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                   aws_access_key_id="bench", aws_secret_access_key="bench")
key_id = kms.create_key(Description="bench")["KeyMetadata"]["KeyId"]
kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
done = time.perf_counter()
server.stop()
print(json.dumps({"total": done - t0, "ready": ready - t0}))
"""

# One pytest session each: what a suite's first test waits for, the plugin (its child starts at the
# end of collection) against a moto fixture, both minus an empty session.
_SESSIONS = {
    "empty": "def test_nothing():\n    pass\n",
    "kmsgw": "def test_first_data_key(kms_client, kms_key):\n    kms_client.create_data_key(kms_key().key_id)\n",
    "moto": """
import boto3, pytest
from moto.server import ThreadedMotoServer

@pytest.fixture(scope="session")
def kms():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client("kms", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    server.stop()

def test_first_data_key(kms):
    kms.generate_data_key(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], KeySpec="AES_256")
""",
}

_TESTS = """
import pytest

@pytest.mark.parametrize("i", range(40))
def test_it(i, {fixture}):
    pass
"""


def _env(pycache: Path | None = None) -> dict[str, str]:
    """The children's environment; with ``pycache``, bytecode is written there and reused, as an
    installed package has it (pip compiles at install; an editable checkout under
    PYTHONDONTWRITEBYTECODE would recompile every gateway module in every process)."""
    drop = {"SOFTHSM2_CONF"} | ({"PYTHONDONTWRITEBYTECODE"} if pycache else set())
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _timed(code: str, runs: int, pycache: Path) -> list[dict[str, float]]:
    """Run ``code`` in ``runs`` fresh interpreters (after one untimed run that writes the bytecode);
    the JSON timings each printed last."""
    out = []
    for i in range(runs + 1):
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=_env(pycache), check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        if i:
            out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


@scenario("testkit.cold_start", "pytest plugin: session cold start to the first data key (subprocess mode)")
def cold_start(ctx: Context) -> Result:
    runs = 3 if ctx.quick else 7
    pycache = ctx.workdir / "pycache"
    sub = _timed(_SUBPROCESS, runs, pycache)
    inproc = _timed(_INPROCESS, runs, pycache)
    extra = {
        "subprocess mode, to ready line, ms": _ms([r["ready"] for r in sub]),
        "in-process mode, to first data key, ms": _ms([r["total"] for r in inproc]),
        "in-process mode, to serving, ms": _ms([r["ready"] for r in inproc]),
    }
    inproc_ms = extra["in-process mode, to first data key, ms"]
    notes = f"median of {runs} fresh processes, bytecode compiled; in-process {inproc_ms:.0f} ms"
    try:
        moto = _timed(_MOTO, runs, pycache)
    except (RuntimeError, ImportError) as exc:
        notes += f"; moto row failed: {str(exc).splitlines()[-1][:80]}"
    else:
        extra["moto ThreadedMotoServer + boto3, to first data key, ms"] = _ms([r["total"] for r in moto])
        notes += (
            f"; moto (threaded server + boto3) {extra['moto ThreadedMotoServer + boto3, to first data key, ms']:.0f} ms"
        )
    try:
        sessions = _pytest_sessions(ctx, 1 if ctx.quick else 3)
    except RuntimeError as exc:
        notes += f"; pytest sessions failed: {str(exc).splitlines()[-1][:80]}"
    else:
        extra["pytest session, first data-key test, kmsgw minus an empty session, ms"] = (
            sessions["kmsgw"] - sessions["empty"]
        ) * 1000
        extra["pytest session, first data-key test, moto fixture minus an empty session, ms"] = (
            sessions["moto"] - sessions["empty"]
        ) * 1000
    totals = sorted(r["total"] for r in sub)
    return Result(
        rate=_ms(totals), unit="ms", ops=runs, p50_ms=_ms(totals), p99_ms=totals[-1] * 1000, notes=notes, extra=extra
    )


def _pytest_sessions(ctx: Context, runs: int) -> dict[str, float]:
    """Median wall of a one-test pytest session per kind in _SESSIONS (after one untimed round)."""
    env = _env(ctx.workdir / "pycache")
    walls: dict[str, list[float]] = {kind: [] for kind in _SESSIONS}
    for i in range(runs + 1):
        for kind, source in _SESSIONS.items():
            with tempfile.TemporaryDirectory(dir=ctx.workdir) as tmp:
                Path(tmp, "test_one.py").write_text(source)
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"],
                    cwd=tmp, capture_output=True, text=True, timeout=300, env=env, check=False,
                )  # fmt: skip
                wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"{kind}: {proc.stdout[-1500:]}")
            if i:
                walls[kind].append(wall)
    return {kind: statistics.median(values) for kind, values in walls.items()}


@scenario("testkit.kms_project", "pytest plugin: one kms_project (project, token, AK/SK) on a running gateway")
def kms_project(ctx: Context) -> Result:
    from gateway.testing.handle import KmsGateway
    from gateway.testing.launcher import ChildGateway

    workdir = Path(tempfile.mkdtemp(dir=ctx.workdir))
    child = ChildGateway(workdir, [], watch_pid=os.getpid())
    gw = KmsGateway(child.start(60), mode="subprocess", stop=child.stop)
    ctx.on_exit(gw.close)
    for _ in range(20):  # warm-up: first connections, first seal of a secret
        gw.new_project()
    samples = []
    deadline = time.monotonic() + ctx.seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        gw.new_project()
        samples.append(time.perf_counter() - start)
    samples.sort()
    p50 = samples[len(samples) // 2] * 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
    return Result(
        rate=p50, unit="ms", ops=len(samples), seconds=ctx.seconds, p50_ms=p50, p99_ms=p99,
        notes=f"{len(samples)} projects one after another; rate column = median ms",
    )  # fmt: skip


@scenario("testkit.xdist_overhead", "pytest plugin: what it adds to `pytest -n 2` of 40 tests taking kms_project")
def xdist_overhead(ctx: Context) -> Result:
    try:
        import xdist  # noqa: F401
    except ImportError:
        raise Skip("pytest-xdist not installed") from None
    runs = 1 if ctx.quick else 3
    env = _env(ctx.workdir / "pycache")
    walls: dict[str, list[float]] = {"plain": [], "kms_project": []}
    for i in range(runs + 1):  # the first round only writes the bytecode
        for fixture in ("request", "kms_project"):
            with tempfile.TemporaryDirectory(dir=ctx.workdir) as tmp:
                Path(tmp, "test_bench.py").write_text(_TESTS.format(fixture=fixture))
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "test_bench.py"],
                    cwd=tmp, capture_output=True, text=True, timeout=300, env=env, check=False,
                )  # fmt: skip
                wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(proc.stdout[-2000:])
            if i:
                walls["plain" if fixture == "request" else "kms_project"].append(wall)
    plain, with_kms = statistics.median(walls["plain"]), statistics.median(walls["kms_project"])
    overhead = with_kms - plain
    return Result(
        rate=overhead * 1000, unit="ms", ops=runs,
        notes=f"pytest -n 2: {with_kms:.2f} s with kms_project, {plain:.2f} s without (median of {runs})",
        extra={"wall with kms_project, s": with_kms, "wall without, s": plain},
    )  # fmt: skip
