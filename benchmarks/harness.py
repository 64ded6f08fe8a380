"""The scenario interface, its registry, and the plumbing every scenario shares.

A scenario is a plain function ``fn(ctx: Context) -> Result | None`` registered with
:func:`scenario`. Returning ``None`` or raising :class:`Skip` / ``NotImplementedError`` marks it
skipped (the message is the reason); any other exception marks it failed and the run goes on.
Subprocesses started through :meth:`Context.spawn` are terminated when the scenario ends, however
it ends, so a scenario cannot leak a server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from benchmarks import REPO_ROOT

SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
LOOPBACK = "127.0.0.1"


@dataclass
class Result:
    """One measured figure; ``rate`` is the headline (operations per second of ``unit``)."""

    rate: float
    unit: str = "ops/s"
    ops: int = 0  # operations completed inside the measured window
    seconds: float = 0.0  # length of the measured window
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0  # failed operations (RPC errors, non-2xx, timeouts)
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)  # other named figures, listed under the table
    details: str = ""  # Markdown for RESULTS.md (e.g. a profile summary), under "Where the time goes"


class Skip(Exception):
    """Raised by a scenario that cannot run here (tool missing, gateway not built yet)."""


ScenarioFn = Callable[["Context"], "Result | None"]


@dataclass(frozen=True)
class Scenario:
    name: str  # dotted, "<group>.<what>"; --only matches the name, its group, or a glob
    title: str  # the table row label
    fn: ScenarioFn

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass
class Outcome:
    """What the runner records per scenario: a result, or why there is none."""

    scenario: Scenario
    status: str  # "ok", "skipped" or "failed"
    result: Result | None = None
    reason: str = ""
    elapsed: float = 0.0  # wall time including start-up, for the progress log


REGISTRY: dict[str, Scenario] = {}
BASELINE = "raw.wrap"  # the ratio column divides every rate by this scenario's rate


def scenario(name: str, title: str) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register ``fn`` under ``name``; registration order is run order."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in REGISTRY:
            raise ValueError(f"scenario {name!r} registered twice")
        REGISTRY[name] = Scenario(name, title, fn)
        return fn

    return register


# --------------------------------------------------------------------------------------------
# Subprocesses


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the runner dies without cleaning up (SIGKILL, crash)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


class ManagedProcess:
    """A child in its own process group, output to files, killed (group and all) on exit."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        workdir: Path,
        env: dict[str, str] | None = None,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.out_path = workdir / f"{name}.out"
        self.log_path = workdir / f"{name}.log"
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches only us; stop() kills the whole group
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} still running after {timeout:.0f}s\n{self.log_tail()}") from None

    def stdout_text(self) -> str:
        return self.out_path.read_text(errors="replace")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(f"  {self.name}| {line}" for line in text[-lines:])

    def stop(self, grace: float = 3.0) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """An ephemeral loopback port, for tools that cannot bind port 0 and report it themselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: ManagedProcess, timeout: float = 20.0) -> None:
    """Block until something accepts on ``127.0.0.1:port``; fail fast if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited before listening\n{proc.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{proc.name} not listening on {port} after {timeout:.0f}s\n{proc.log_tail()}")


def wait_for_file(path: Path, proc: ManagedProcess, timeout: float = 20.0) -> str:
    """Block until ``path`` exists (a child writes its bound port there) and return its text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text().strip()
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited early\n{proc.log_tail()}")
        time.sleep(0.05)
    raise TimeoutError(f"{proc.name} wrote no {path.name} after {timeout:.0f}s\n{proc.log_tail()}")


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (for soak scenarios)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def group_members(pgid: int) -> dict[int, str]:
    """Live processes of process group ``pgid`` (a :class:`ManagedProcess` leads its own): pid -> cmdline.

    A plain /proc scan (no psutil): field 5 of ``/proc/PID/stat`` is the process group.
    """
    members: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
        if int(fields[2]) == pgid and fields[0] != "Z":
            members[int(entry.name)] = cmdline
    return members


def percentile_ms(sorted_seconds: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of latencies given in seconds, returned in milliseconds."""
    if not sorted_seconds:
        return None
    rank = max(0, min(len(sorted_seconds) - 1, round(q / 100.0 * len(sorted_seconds)) - 1))
    return sorted_seconds[rank] * 1000.0


# --------------------------------------------------------------------------------------------
# The throwaway SoftHSM2 token


@dataclass(frozen=True)
class BenchToken:
    """A file-backed SoftHSM2 token in the run's temp dir; picklable, so workers can open it."""

    conf: Path
    label: str
    pin: str
    so_pin: str
    module: str = SOFTHSM2_MODULE

    def env(self) -> dict[str, str]:
        """The environment a child needs to see this token (and only this one)."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    @classmethod
    def create(cls, workdir: Path, label: str = "bench") -> BenchToken:
        tokendir = workdir / "tokens"
        tokendir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n")
        token = cls(conf=conf, label=label, pin=secrets.token_hex(8), so_pin=secrets.token_hex(8))
        # The PINs travel in softhsm2-util's argv, visible to `ps` for a moment. Acceptable only
        # because this token is throwaway: random PINs, a temp dir, deleted at the end of the run.
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label,
             "--so-pin", token.so_pin, "--pin", token.pin],
            env=token.env(), check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return token


# --------------------------------------------------------------------------------------------
# What a scenario gets


@dataclass
class Context:
    """Run-wide settings and services handed to every scenario."""

    seconds: float  # measured duration per scenario (warm-up and start-up come on top)
    quick: bool
    workdir: Path  # temp dir for this run: token, logs, port files; removed at the end
    soak_seconds: float = 60.0  # length of soak scenarios (gateway.soak_rss)
    soak_requested: bool = False  # True when the long soak was asked for (--soak-seconds or --only)
    results: dict[str, Result] = field(default_factory=dict)  # scenarios already measured
    state: dict[str, object] = field(default_factory=dict)  # shared setup between scenarios
    _token: BenchToken | None = None
    _cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _spawned: int = 0

    @property
    def python(self) -> str:
        return sys.executable

    @property
    def warmup(self) -> float:
        """Untimed warm-up before a measured window: enough to fill connections and caches."""
        return min(1.0, max(0.2, self.seconds * 0.2))

    def token(self) -> BenchToken:
        """The run's SoftHSM2 token, created on first use (shared by all scenarios)."""
        if self._token is None:
            self._token = BenchToken.create(self.workdir)
        return self._token

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> ManagedProcess:
        """Start a child that is stopped when the current scenario ends, even on error or Ctrl-C."""
        self._spawned += 1
        proc = ManagedProcess(f"{self._spawned:02d}-{name}", argv, self.workdir, env=env)
        return self._cleanup.enter_context(proc)

    def on_exit(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` when the current scenario ends (engine loaders, temp state)."""
        self._cleanup.callback(fn)

    def log(self, message: str) -> None:
        print(f"    {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def scenario_scope(self) -> Iterator[None]:
        """Used by the runner: everything spawned inside is torn down on the way out."""
        try:
            with self._cleanup:
                yield
        finally:
            self._cleanup = contextlib.ExitStack()
