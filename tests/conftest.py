"""Shared fixtures: a real SoftHSM2 token and real servers on loopback ephemeral ports.

One in-process gateway serves the whole session (python-pkcs11 initializes the library
once per process, so one SoftHSM2 config per pytest process). Tests that need their own
process — restart, SIGTERM, the README's command — start `kmsgw serve` as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from gateway import config as config_mod
from gateway.core.clock import OffsetClock
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.runtime import Runtime
from gateway.server import run

if shutil.which("softhsm2-util") is None:
    pytest.exit("softhsm2 is not installed: run `make test` (it installs it)", returncode=3)


def new_project_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Gateway:
    """A running gateway: its runtime, ports, clock, and helpers to get callers."""

    rt: Runtime
    loop: asyncio.AbstractEventLoop
    clock: OffsetClock
    grpc_port: int = 0
    http_port: int = 0
    _channels: list[grpc.Channel] = field(default_factory=list)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the gateway's loop (the HSM executor answers there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def token(self, project_id: str | None = None, ttl: int = 3600, **kw: Any) -> str:
        return str(self.rt.auth.create_token(project_id or new_project_id(), ttl, **kw)["token"])

    def credentials(self, project_id: str | None = None) -> dict[str, str]:
        return self.call(self.rt.auth.create_credentials(project_id or new_project_id()))

    def stub(self, token: str | None) -> KmsClient:
        channel = grpc.insecure_channel(self.grpc_target)
        self._channels.append(channel)
        return KmsClient(pb_grpc.KeyManagementServiceStub(channel), token)


class KmsClient:
    """A stub that adds the x-auth-token metadata to every call."""

    def __init__(self, stub: pb_grpc.KeyManagementServiceStub, token: str | None) -> None:
        self._stub = stub
        self._md = (("x-auth-token", token),) if token else ()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)
        return lambda request, **kw: method(request, metadata=self._md, timeout=kw.pop("timeout", 30), **kw)


def kms_code(err: grpc.RpcError) -> str:
    """The KMS error code from a failed call's trailing metadata."""
    return dict(err.trailing_metadata() or ()).get("kms-error-code", "")


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("gw") / "var"
    cfg = config_mod.load(
        None,
        data_dir=str(data_dir),
        grpc_listen="127.0.0.1:0",
        rest_listen="127.0.0.1:0",
        cmk_quota=100_000,
        sweep_interval_s=3600.0,
        drain_seconds=2.0,
    )
    clock = OffsetClock()
    rt = Runtime.open(cfg, clock)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    gw = Gateway(rt, loop, clock)

    def on_ready(grpc_port: int, http_port: int) -> None:
        gw.grpc_port, gw.http_port = grpc_port, http_port
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(run(rt, on_ready=on_ready, stop=stop))

    thread = threading.Thread(target=main, name="gateway", daemon=True)
    thread.start()
    assert ready.wait(60), "gateway did not start"
    yield gw
    for ch in gw._channels:
        ch.close()
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    rt.close()


@pytest.fixture
def clock(gateway: Gateway) -> Iterator[OffsetClock]:
    """The gateway's clock; any advance is undone after the test."""
    yield gateway.clock
    gateway.clock.reset()


@pytest.fixture
def project(gateway: Gateway) -> tuple[str, KmsClient]:
    """A fresh project with a token and a gRPC client for it."""
    project_id = new_project_id()
    return project_id, gateway.stub(gateway.token(project_id))


@pytest.fixture
def kms(project: tuple[str, KmsClient]) -> KmsClient:
    return project[1]


@pytest.fixture
def key_id(kms: KmsClient) -> str:
    return kms.CreateKey(pb.CreateKeyRequest(key_alias=f"k-{uuid.uuid4().hex[:12]}")).key_info.key_id


# -- PostgreSQL (tests/pg_support.py) -------------------------------------------------
@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster (or KMSGW_TEST_PG_URL's server); skips without PostgreSQL."""
    from tests.pg_support import cluster_or_skip

    yield from cluster_or_skip()


@pytest.fixture
def pg_url(pg_cluster: Any) -> str:
    """The URL of a fresh, empty database on the test cluster."""
    return pg_cluster.create_database()


# -- the gateway as a separate process ----------------------------------------------
@dataclass
class ServeProcess:
    proc: subprocess.Popen
    data_dir: Path
    grpc_port: int
    http_port: int
    log_lines: list[dict]

    def terminate(self, timeout: float = 30) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout)


def start_serve(data_dir: Path, *extra: str, argv: list[str] | None = None, timeout: float = 60) -> ServeProcess:
    """Start `kmsgw serve` on ephemeral ports and wait for its "serving" log line."""
    cmd = argv or [
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--data-dir",
        str(data_dir),
        "--grpc-listen",
        "127.0.0.1:0",
        "--rest-listen",
        "127.0.0.1:0",
        *extra,
    ]
    env = dict(os.environ)
    env.pop("SOFTHSM2_CONF", None)  # the child uses its own data dir's config
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    lines: list[dict] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        try:
            rec = json.loads(line)
        except ValueError:
            rec = {"raw": line}  # a traceback says why a start failed
        lines.append(rec)
        if rec.get("msg") == "serving":
            threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
            return ServeProcess(proc, data_dir, rec["grpc_port"], rec["rest_port"], lines)
    proc.kill()
    raise RuntimeError(f"kmsgw serve did not start: {lines}")


def _drain(proc: subprocess.Popen, lines: list[dict]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            lines.append(json.loads(line))
        except ValueError:
            lines.append({"raw": line})


def cli(data_dir: Path, *args: str, timeout: float = 180) -> dict:
    """Run a `kmsgw` CLI command against a data dir and parse its JSON output (a failure shows its stderr)."""
    env = dict(os.environ)
    env.pop("SOFTHSM2_CONF", None)
    out = subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert out.returncode == 0, f"kmsgw {' '.join(args[:2])} failed: {out.stderr[-4000:]}"
    return json.loads(out.stdout)


class GrpcClient:
    """A blocking gRPC client of a `kmsgw serve` subprocess: ``client.CreateKey(req)`` with the token."""

    def __init__(self, port: int, token: str, timeout: float = 30) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb_grpc.KeyManagementServiceStub(self.channel)
        self.md = (("x-auth-token", token),)
        self.timeout = timeout

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.stub, name)
        return lambda req: method(req, metadata=self.md, timeout=self.timeout)

    def close(self) -> None:
        self.channel.close()
