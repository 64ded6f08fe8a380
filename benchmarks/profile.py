"""Summarize a ``py-spy record --format raw --threads`` profile: where a server's CPU goes.

The raw format is one line per distinct stack: ``thread (TID): NAME;frame;frame;... COUNT`` with
frames root first, each ``function (path/file.py:line)``. Recorded with ``--gil``, only the thread
holding the GIL is sampled, so the shares are of the one core's worth of Python time the process
has (without it, py-spy counts a thread waiting to re-take the GIL after a C call as busy, and
python-pkcs11's calls look far costlier than they are). Native code that runs without the GIL
(SoftHSM2 inside C_Encrypt, the gRPC core) is perf's part: :func:`summarize_perf_dso`. Three views:

* by thread (the event loop vs the HSM executor thread);
* by component, from each sample's innermost frame (self time: whose code was running);
* the gateway's own functions and the libraries' entry points, inclusive (share of samples whose
  stack passes through them: what the time was spent *for*).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Component of a frame, by the first matching fragment of its file path (order matters).
COMPONENTS: list[tuple[str, str]] = [
    ("pkcs11/", "PKCS#11 calls (python-pkcs11 -> SoftHSM2)"),
    ("grpc/", "gRPC (grpc.aio, cygrpc)"),
    ("google/protobuf", "protobuf"),
    ("prometheus_client/", "Prometheus metrics"),
    ("gateway/store/", "SQLite metadata store"),
    ("sqlite3/", "SQLite metadata store"),
    ("logging/", "logging"),
    ("gateway/hsm/", "gateway HSM executor / token code"),
    ("gateway/grpc_api/", "gateway gRPC servicer"),
    ("gateway/rest/", "gateway REST shim"),
    ("gateway/core/auth", "gateway auth"),
    ("gateway/", "gateway core"),
    ("asyncio/", "asyncio event loop"),
    ("uvicorn/", "uvicorn"),
    ("starlette/", "starlette"),
    ("pydantic", "pydantic"),
]
OTHER = "other (stdlib: uuid, abc, threading, queue, ...)"
# Frames every busy sample passes through: not informative as "inclusive" entries.
ROOT_FRAMES = {
    "_run_module_as_main", "_run_code", "<module>", "main", "serve", "run", "Runner.run",
    "BaseEventLoop.run_until_complete", "BaseEventLoop.run_forever", "BaseEventLoop._run_once",
    "Handle._run", "Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "HsmExecutor._run",
}  # fmt: skip


@dataclass(frozen=True)
class Frame:
    function: str
    path: str  # as py-spy prints it (relative to a sys.path entry)
    line: str

    @property
    def where(self) -> str:
        return f"{self.function} ({self.path})"

    @property
    def at(self) -> str:
        return f"{self.function} ({self.path}:{self.line})"


def _frame(text: str) -> Frame:
    function, _, rest = text.rpartition(" (")
    if not function:
        return Frame(text, "", "")
    path, _, line = rest.rstrip(")").rpartition(":")
    return Frame(function, path, line)


# Innermost Python frames that stand for code without a Python frame of its own.
NATIVE_STAND_INS = {
    "Handle._run": "grpc.aio callbacks (Cython code run by the event loop: call handling, (de)serialization)",
    "Thread.run": "threads in native code (grpc.aio's poller thread)",
    "HsmExecutor._run": "HSM executor thread: queue hand-off (SimpleQueue.get)",
}


def component(frame: Frame) -> str:
    stand_in = NATIVE_STAND_INS.get(frame.function)
    if stand_in:
        return stand_in
    for fragment, name in COMPONENTS:
        if fragment in frame.path:
            return name
    return OTHER


@dataclass
class Summary:
    total: int = 0
    threads: Counter[str] = field(default_factory=Counter)
    components: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def pct(self, n: int) -> float:
        return 100.0 * n / self.total if self.total else 0.0

    def figures(self) -> dict[str, float]:
        out = {"py-spy samples": float(self.total)}
        for name, n in self.threads.most_common(3):
            out[f"py-spy samples in thread {name}, %"] = self.pct(n)
        return out

    def markdown(self, how: str, top: int = 12) -> str:
        lines = [f"Python time (GIL held): {how}; {self.total} samples.", ""]
        lines += ["| thread holding the GIL | share of samples |", "| --- | ---: |"]
        lines += [f"| {name} | {self.pct(n):.1f} % |" for name, n in self.threads.most_common()]
        lines += ["", "| component (innermost frame: self time) | share |", "| --- | ---: |"]
        lines += [f"| {name} | {self.pct(n):.1f} % |" for name, n in self.components.most_common()]
        lines += ["", f"| top {top} lines, self time | share |", "| --- | ---: |"]
        lines += [f"| `{name}` | {self.pct(n):.1f} % |" for name, n in self.self_time.most_common(top)]
        lines += ["", f"| top {top} functions, inclusive (time spent for) | share |", "| --- | ---: |"]
        lines += [f"| `{name}` | {self.pct(n):.1f} % |" for name, n in self.inclusive.most_common(top)]
        return "\n".join(lines) + "\n"


def summarize(raw: str) -> Summary:
    s = Summary()
    for line in raw.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        thread = "?"
        if parts and parts[0].startswith("thread ("):
            thread = parts.pop(0).split(": ", 1)[-1]
        frames = [_frame(p) for p in parts if p]
        if not frames:
            continue
        s.total += count
        s.threads[thread] += count
        leaf = frames[-1]
        s.components[component(leaf)] += count
        s.self_time[leaf.at] += count
        seen = {f.where for f in frames if f.function not in ROOT_FRAMES}
        for where in seen:
            s.inclusive[where] += count
    return s


# --------------------------------------------------------------------------------------------
# perf: CPU by shared object, native code included (py-spy sees Python frames only)

HSM_WORK = "HSM work: SoftHSM2, libcrypto (AES-GCM; hashlib's SHA-256 too), python-pkcs11"
# Shared object name fragment -> what it stands for (first match wins).
DSO_GROUPS: list[tuple[str, str]] = [
    ("libsofthsm2", HSM_WORK),
    ("libcrypto", HSM_WORK),
    ("_pkcs11", HSM_WORK),
    ("libpython", "Python interpreter (bytecode, objects, GC)"),
    ("cygrpc", "gRPC (cygrpc + gRPC core)"),
    ("kernel", "kernel (syscalls, network, context switches)"),
    ("libc.so", "libc (malloc, locks)"),
    ("sqlite", "SQLite"),
    ("_message", "protobuf"),
    ("httptools", "HTTP parsing"),
    ("_pydantic_core", "pydantic"),
]


@dataclass
class DsoSummary:
    total_pct: float = 0.0
    groups: Counter[str] = field(default_factory=Counter)  # group -> percent of samples
    objects: list[tuple[str, float]] = field(default_factory=list)  # raw rows, largest first

    def markdown(self, how: str, top: int = 8) -> str:
        lines = [
            f"CPU by native code: {how}.",
            "",
            "| where (shared object) | share of CPU samples |",
            "| --- | ---: |",
        ]
        lines += [f"| {name} | {pct:.1f} % |" for name, pct in self.groups.most_common()]
        lines += ["", "Largest objects: " + ", ".join(f"`{n}` {p:.1f} %" for n, p in self.objects[:top]) + "."]
        return "\n".join(lines) + "\n"


def summarize_perf_dso(report: str) -> DsoSummary:
    """Parse ``perf report --sort dso --stdio -g none`` output ("  47.47%  libpython3.11.so.1.0")."""
    s = DsoSummary()
    for line in report.splitlines():
        text = line.strip()
        if not text or text.startswith("#") or "%" not in text:
            continue
        pct_text, _, name = text.partition("%")
        try:
            pct = float(pct_text)
        except ValueError:
            continue
        name = name.strip()
        s.objects.append((name, pct))
        s.total_pct += pct
        group = next((g for fragment, g in DSO_GROUPS if fragment in name), "other native code")
        s.groups[group] += pct
    return s
