"""`kmsgw serve` and `kmsgw` CLI commands as subprocesses, and a blocking gRPC client for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc


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
