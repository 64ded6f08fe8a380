"""Start and stop `kmsgw dev` child processes for the pytest plugin (its default, subprocess mode).

No fixed ports and no sleeps: the child binds ephemeral loopback ports and prints one ready line
with them (gateway/testing/envfile.py); the parent waits on its stdout. The child watches the
process that should outlive it (``--watch-pid``), so a test runner killed with SIGKILL leaves no
gateway behind, and stops cleanly on SIGTERM. Under pytest-xdist's opt-in shared mode, the first
worker starts one child for all of them under a file lock in the run's base temp dir and leaves it
to the controller process to stop (:func:`stop_shared`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.testing import envfile

SHARED_DIR = "kmsgw-shared"
_DETACHED: list[ChildGateway] = []


class GatewayStartError(RuntimeError):
    """The child did not serve; the message is its own last words (a bad seed's file, entry and reason)."""


class ChildGateway:
    """One `kmsgw dev` child: spawn (returns at once), wait for its ready line, stop, restart."""

    def __init__(self, workdir: Path, args: list[str], *, watch_pid: int, detached: bool = False) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "var"
        self.args = args
        self.watch_pid = watch_pid
        self.detached = detached  # shared mode: another process (the xdist controller) stops it
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._ports: list[str] = []

    @property
    def log_path(self) -> Path:
        return self.workdir / "gateway.log"

    def spawn(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.pop("SOFTHSM2_CONF", None)  # the child's own token, never the caller's
        argv = [sys.executable, "-m", "gateway", "dev", "--no-project", "--no-env-file"]
        argv += ["--data-dir", str(self.data_dir), "--watch-pid", str(self.watch_pid), *self.args, *self._ports]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which stops us in order
            )

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None, "spawn() first"
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buffer = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise GatewayStartError(f"kmsgw dev did not serve within {timeout:.0f} s; log: {self.log_path}")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self.proc.wait()
                raise GatewayStartError(_last_words(self.log_path, code))
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                info = envfile.parse_ready(line.decode(errors="replace"))
                if info is not None:
                    self.info = info
                    return info

    def start(self, timeout: float) -> dict[str, Any]:
        self.spawn()
        return self.wait_ready(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; the child removes nothing of ours (its dir is ours)."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        self.proc = None

    def restart(self, timeout: float) -> dict[str, Any]:
        """Stop, then start again on the same data dir and the same ports (clients reconnect)."""
        ports = {"grpc_target": "--grpc-port", "rest_url": "--rest-port", "control_url": "--control-port"}
        self._ports = [a for field, flag in ports.items() for a in (flag, self.info[field].rsplit(":", 1)[1])]
        self.stop()
        return self.start(timeout)


def _last_words(log_path: Path, code: int) -> str:
    """The child's own error lines (``kmsgw: ...``), else the tail of its log."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    mine = [line.removeprefix("kmsgw: ") for line in lines if line.startswith("kmsgw: ")]
    if mine:
        return "\n".join(mine)
    tail = "\n".join(lines[-15:])
    return f"kmsgw dev exited with code {code} before serving; log {log_path}:\n{tail}"


# -- shared mode (pytest-xdist) -----------------------------------------------------------------
@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another worker starts the gateway
        yield
    finally:
        os.close(fd)


def shared_gateway(root: Path, args: list[str], controller_pid: int, timeout: float) -> dict[str, Any]:
    """The ready info of the run's one shared gateway, starting it if no worker has yet."""
    directory = root / SHARED_DIR
    state = directory / "state.json"
    with _locked(directory):
        if state.exists():
            info = json.loads(state.read_text())
            if _alive(int(info["pid"])):
                return dict(info)
        child = ChildGateway(directory, args, watch_pid=controller_pid, detached=True)
        info = child.start(timeout)
        _DETACHED.append(child)  # its Popen must outlive this call (no "still running" warning)
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        return info


def stop_shared(root: Path, timeout: float = 30.0) -> None:
    """In the xdist controller at the end of the run: stop the shared gateway, if a worker started one."""
    state = root / SHARED_DIR / "state.json"
    if not state.exists():
        return
    pid = int(json.loads(state.read_text())["pid"])
    state.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_gone(pid, timeout)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait for a process that is not our child to exit (a pidfd where the kernel has them)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
