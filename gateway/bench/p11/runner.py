"""``bench p11``: discovery, then the sweep mechanism x key x payload x concurrency, repeated.

The coordinator never loads the module: worker processes do (see ``worker.py``). Repeats are the
outer loop inside a mechanism, so a passing disturbance of the machine spreads over cells instead
of spoiling one. Everything the run made on the token is destroyed when it ends, Ctrl-C included.
"""

from __future__ import annotations

import multiprocessing as mp
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from gateway.bench import env as env_mod
from gateway.bench import result
from gateway.bench.p11.catalog import family, payload_sizes, unsupported
from gateway.bench.p11.discovery import Discovery
from gateway.bench.p11.mechanisms import KeyPlan, MechSpec
from gateway.bench.p11.worker import OpenSpec, RunSpec, host_main
from gateway.bench.stats import merged

START_LEAD_S = 0.05  # commands reach every worker before the warm-up starts
HOST_START_TIMEOUT_S = 120.0


@dataclass
class P11Settings:
    module: str
    token_label: str
    pin: str = field(repr=False)
    mechanisms: list[MechSpec] = field(default_factory=list)
    payloads: list[int] = field(default_factory=lambda: [32])
    concurrency: list[int] = field(default_factory=lambda: [1])
    model: str = "processes"
    keys: str = "session"  # "session" | "token" | "existing:LABEL"
    duration: float = 5.0
    warmup: float = 1.0
    repeat: int = 1
    p99_budget_us: float | None = None
    env: dict[str, str] = field(default_factory=dict)  # for the workers (e.g. SOFTHSM2_CONF)

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module, "token_label": self.token_label,
            "mechanisms": [m.name for m in self.mechanisms], "payloads": self.payloads,
            "concurrency": self.concurrency, "model": self.model, "keys": self.keys,
            "duration_s": self.duration, "warmup_s": self.warmup, "repeat": self.repeat,
            "p99_budget_us": self.p99_budget_us,
        }  # fmt: skip


class HostError(RuntimeError):
    """A worker process reported an error or died."""


class OpenError(HostError):
    """The workers could not open the token (module, label, PIN): a problem of the input, exit 2."""


class Hosts:
    """The worker processes: one per concurrency step (processes) or one with every thread (threads)."""

    def __init__(self, s: P11Settings) -> None:
        self.s = s
        top = max(s.concurrency)
        self.count, threads = (top, 1) if s.model == "processes" else (1, top)
        ctx = mp.get_context("spawn")
        lock = ctx.Lock()
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for i in range(self.count):
            ours, theirs = ctx.Pipe()
            spec = OpenSpec(s.module, s.token_label, s.pin, s.model, threads, s.env, i)
            proc = ctx.Process(target=host_main, args=(theirs, spec, lock), daemon=True, name=f"bench-p11-{i}")
            proc.start()
            theirs.close()
            self.conns.append(ours)
            self.procs.append(proc)
        try:
            hellos = self._collect(range(self.count), HOST_START_TIMEOUT_S)
        except HostError as exc:
            self.close()
            raise OpenError(str(exc)) from None
        self.locking = hellos[0]["locking"]

    def _collect(self, indices: Sequence[int] | range, timeout: float) -> list[Any]:
        out = []
        deadline = time.monotonic() + timeout
        for i in indices:
            conn = self.conns[i]
            while not conn.poll(0.2):
                if not self.procs[i].is_alive():
                    raise HostError(f"worker {i} died (exit code {self.procs[i].exitcode})")
                if time.monotonic() > deadline:
                    raise HostError(f"worker {i} gave no answer in {timeout:.0f} s")
            try:
                status, value = conn.recv()
            except EOFError:
                self.procs[i].join(2)
                raise HostError(f"worker {i} died (exit code {self.procs[i].exitcode})") from None
            if status != "ok":
                raise HostError(str(value))
            out.append(value)
        return out

    def call(self, indices: Sequence[int] | range, command: str, arg: Any, timeout: float) -> list[Any]:
        for i in indices:
            self.conns[i].send((command, arg))
        return self._collect(indices, timeout)

    def close(self) -> int:
        """Destroy what the workers made, stop them; the number of objects destroyed."""
        destroyed = 0
        for i, conn in enumerate(self.conns):
            if self.procs[i].is_alive():
                try:
                    conn.send(("quit", None))
                    destroyed += int(self._collect([i], 60)[0])
                except (HostError, OSError, EOFError):
                    pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        return destroyed


def _plans(s: P11Settings, mech: MechSpec, run_id: str) -> tuple[KeyPlan, KeyPlan]:
    """(plan of worker 0, plan of the others)."""
    if s.keys == "token":
        label = f"kmsgw-bench-{run_id}-{mech.name}"
        return KeyPlan("token", label, True), KeyPlan("token", label, False)
    if s.keys.startswith("existing:"):
        plan = KeyPlan("existing", s.keys.split(":", 1)[1], False)
        return plan, plan
    return KeyPlan("session", "", False), KeyPlan("session", "", False)


def _fields(s: P11Settings, mech: MechSpec, payload: int, concurrency: int, model: str) -> dict[str, Any]:
    fam = family(mech)
    return {
        "layer": "p11", "mechanism": mech.name, "key": fam.key_name(mech.param), "payload": payload,
        "payload_applies": fam.uses_payload, "concurrency": concurrency, "model": model, "keys": s.keys,
    }  # fmt: skip


def _cell_id(mech: MechSpec, payload: int, concurrency: int, model: str) -> str:
    return f"p11/{mech.name}/{payload}B/c{concurrency}/{model}"


class _Sweep:
    """Runs the cells of one mechanism and turns worker figures into cells."""

    def __init__(self, s: P11Settings, hosts: Hosts, model: str, cores: int, tick: Callable[[str], None]) -> None:
        self.s, self.hosts, self.model, self.cores, self.tick = s, hosts, model, cores, tick

    def measure(self, mech: MechSpec, payload: int, concurrency: int) -> list[dict[str, Any]]:
        s = self.s
        start = time.monotonic_ns() + int((START_LEAD_S + s.warmup) * 1e9)
        run = RunSpec(mech, payload, 1 if s.model == "processes" else concurrency, start, start + int(s.duration * 1e9))
        indices = range(concurrency) if s.model == "processes" else range(1)
        per_host = self.hosts.call(indices, "run", run, s.warmup + s.duration + 120)
        self.tick(f"{mech.name} {payload} B x{concurrency}")
        return [fig for figs in per_host for fig in figs]

    def cell(self, mech: MechSpec, payload: int, concurrency: int, repeats: list[list[dict[str, Any]]]) -> dict:
        fields = _fields(self.s, mech, payload, concurrency, self.model)
        cid = _cell_id(mech, payload, concurrency, self.model)
        flat = [f for rep in repeats for f in rep]
        for key in ("skipped", "failed"):
            reason = next((f[key] for f in flat if key in f), None)
            if reason:
                return result.cell(cid, fields, status=key, reason=reason)
        rates = [sum(f["ops"] / f["seconds"] for f in rep) for rep in repeats]
        errors = result.merge_errors(f["errors"] for f in flat)
        cores_used = [sum(f["cpu_s"] for f in rep) / max(f["seconds"] for f in rep) for rep in repeats]
        cpu = result.client_cpu(sum(cores_used) / len(cores_used), 1.0, concurrency, self.cores)
        hist = merged(f["histogram"] for f in flat)
        status, reason = "ok", ""
        if not hist.count:
            status, reason = "failed", "no operation succeeded: " + ", ".join(f"{k} x{v}" for k, v in errors.items())
        return result.cell(
            cid, fields, status=status, reason=reason, note=flat[0].get("note", ""), rates=rates,
            bytes_per_op=payload if family(mech).uses_payload else None, histogram=hist, errors=errors, cpu=cpu,
        )  # fmt: skip


def total_runs(s: P11Settings) -> int:
    return sum(len(payload_sizes(m, s.payloads)) for m in s.mechanisms) * len(s.concurrency) * s.repeat


def run_p11(s: P11Settings, command: Sequence[str], tick: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """The whole ``bench p11`` run; returns the result document (not yet written)."""
    environment = env_mod.machine()
    environment["module"] = env_mod.module_facts(s.module)
    run = result.new_run("p11", command, environment, s.to_json())
    hosts = Hosts(s)
    try:
        discovery = Discovery.from_json(hosts.call([0], "discover", None, 120)[0])
        run["discovery"] = discovery.to_json()
        environment["library"], environment["token"] = discovery.library, discovery.token
        run["software_token"] = env_mod.is_software_token(
            discovery.library["manufacturer"], discovery.token["model"], s.module
        )
        model = s.model if hosts.locking != "serialized" else "threads-serialized"
        run["settings"]["locking"] = hosts.locking
        sweep = _Sweep(s, hosts, model, environment["cores_usable"] or 1, tick)
        run_id = secrets.token_hex(4)
        for mech in s.mechanisms:
            run["cells"] += _mechanism(s, hosts, sweep, mech, discovery, run_id, tick)
    finally:
        run["settings"]["objects_destroyed"] = hosts.close()
    run["curves"] = result.curves(run["cells"], ("mechanism", "payload", "model"), s.p99_budget_us)
    return result.finish(run)


def _mechanism(
    s: P11Settings, hosts: Hosts, sweep: _Sweep, mech: MechSpec, discovery: Discovery, run_id: str, tick: Any
) -> list[dict[str, Any]]:
    payloads = payload_sizes(mech, s.payloads)
    fam = family(mech)
    keys_mode = s.keys.split(":", 1)[0]
    reason = unsupported(mech, discovery, keys_mode)
    if reason is None:
        first, others = _plans(s, mech, run_id)
        reasons = hosts.call([0], "prepare", (mech, first), 600)[0]
        if not reasons and hosts.count > 1:
            reasons = [r for rs in hosts.call(range(1, hosts.count), "prepare", (mech, others), 600) for r in rs]
        reason = reasons[0] if reasons else None
    if reason is not None:
        for _ in range(len(payloads) * len(s.concurrency) * s.repeat):
            tick(f"{mech.name} skipped")
        return [
            result.cell(_cell_id(mech, p, c, sweep.model), _fields(s, mech, p, c, sweep.model), status="skipped",
                        reason=reason)
            for p in payloads for c in s.concurrency
        ]  # fmt: skip
    figures: dict[tuple[int, int], list[list[dict[str, Any]]]] = {}
    for _ in range(s.repeat):
        for payload in payloads:
            why = fam.payload_reason(mech.param, payload)
            for c in s.concurrency:
                if why:
                    figures.setdefault((payload, c), []).append([{"skipped": why}])
                    tick(f"{mech.name} skipped")
                else:
                    figures.setdefault((payload, c), []).append(sweep.measure(mech, payload, c))
    return [sweep.cell(mech, p, c, figures[(p, c)]) for p in payloads for c in s.concurrency]
