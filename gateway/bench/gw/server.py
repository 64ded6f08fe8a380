"""``--start``: a throwaway gateway for the run, on ephemeral loopback ports, stopped at the end.

Its data dir (a managed SoftHSM2 token, a SQLite store) lives in the run's temp dir and is
initialized once by ``kmsgw token create``; each ``--workers`` step starts a fresh ``kmsgw
serve`` on it, so no step inherits another's queues or heap. The bearer token stays in memory and
in a 0600 file; the token's PIN stays in the data dir, where ``--with-raw`` reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ID = "bench"
TOKEN_TTL_S = 24 * 3600
TOKEN_LABEL = "kmsgw"  # noqa: S105 - the label a managed data dir gives its token


@dataclass
class StartedGateway:
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    grpc_target: str
    rest_url: str
    workers: int
    token: str = field(repr=False)
    project_id: str = PROJECT_ID

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _env() -> dict[str, str]:
    """The gateway finds its token through its data dir's softhsm2.conf: hide any other."""
    return {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}


def make_token(data_dir: Path) -> str:
    """Initialize the data dir (first call) and mint a bearer token for the run's project."""
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "token", "create", "--data-dir", str(data_dir), "--project-id", PROJECT_ID,
         "--ttl", str(TOKEN_TTL_S)],
        env=_env(), capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"kmsgw token create failed: {out.stderr.strip()[-500:]}")
    token = json.loads(out.stdout)["token"]
    assert isinstance(token, str)
    return token


def start(
    data_dir: Path, token: str, workers: int, config: str | None, logs: Path, timeout: float = 120.0
) -> StartedGateway:
    """``kmsgw serve --workers N`` on 127.0.0.1:0; returns once it logs "serving" with its ports."""
    argv = [
        sys.executable, "-m", "gateway", "serve", "--data-dir", str(data_dir), "--workers", str(workers),
        "--grpc-listen", "127.0.0.1:0", "--rest-listen", "127.0.0.1:0",
    ]  # fmt: skip
    if config:
        argv += ["--config", config]
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"serve-w{workers}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=_env(), start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("msg") == "serving":
                return StartedGateway(
                    data_dir, proc, log_path, f"127.0.0.1:{entry['grpc_port']}",
                    f"http://127.0.0.1:{entry['rest_port']}", workers, token,
                )  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError(f"kmsgw serve exited before serving: {log_path.read_text(errors='replace')[-800:]}")
        time.sleep(0.05)
    StartedGateway(data_dir, proc, log_path, "", "", workers, token).stop()
    raise RuntimeError(f"kmsgw serve not serving after {timeout:.0f} s (log: {log_path})")
