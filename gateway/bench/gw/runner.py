"""``bench gateway``: transports x operations x (closed-loop concurrency | batch sizes | open-loop rates).

For each ``--workers`` step of a started gateway (or once against a running one) the run makes its
keys, then measures every cell in loader processes while it scrapes ``/metrics`` at the window's
edges. With ``--with-raw`` the same mechanisms run first through ``bench p11`` on the gateway's
own token, and each gateway row carries its ratio to that raw rate.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gateway.bench import env as env_mod
from gateway.bench import result
from gateway.bench.gw import metrics
from gateway.bench.gw.drivers import DRIVERS
from gateway.bench.gw.loader import LoadSpec, loader_main
from gateway.bench.gw.ops import BATCHABLE, USES_PAYLOAD, Endpoint, Fixture
from gateway.bench.gw.setup import RawToken, attach_raw, make_keys, raw_settings, retire_keys
from gateway.bench.stats import merged

LEAD_S = 0.5  # loaders prepare (a call or two) before the warm-up starts


@dataclass
class GwSettings:
    endpoint: Endpoint | None = None  # a running gateway; None with --start
    workers: list[int] = field(default_factory=lambda: [1])  # --start
    config: str | None = None
    transports: list[str] = field(default_factory=lambda: ["grpc", "rest", "xks"])
    operations: list[str] = field(default_factory=lambda: ["create_datakey"])
    payloads: list[int] = field(default_factory=lambda: [32])
    concurrency: list[int] = field(default_factory=lambda: [1, 4, 16])
    batch_sizes: list[int] = field(default_factory=list)
    batch_concurrency: list[int] = field(default_factory=lambda: [4])
    rates: list[float] = field(default_factory=list)
    max_in_flight: int = 1000
    sign_spec: str = "EC_P256"
    key_id: str | None = None
    verify: bool = False
    duration: float = 5.0
    warmup: float = 1.0
    repeat: int = 1
    p99_budget_us: float | None = None
    client_processes: int = 1
    connections: int = 8
    timeout: float = 10.0
    with_raw: bool = False
    raw: RawToken | None = None  # the token behind a running gateway (--with-raw)

    @property
    def start(self) -> bool:
        return self.endpoint is None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("endpoint", "raw")}
        if self.endpoint is not None:
            out["target"], out["rest_url"] = self.endpoint.grpc_target, self.endpoint.rest_url
        out["start"] = self.start
        return out


@dataclass(frozen=True)
class Plan:
    transport: str
    operation: str
    mode: str  # closed | batch | open
    payload: int
    concurrency: int
    batch: int = 0
    rate: float = 0.0


def plans(s: GwSettings, transports: Sequence[str]) -> list[Plan]:
    out = []
    for t in transports:
        for op in s.operations:
            payloads = s.payloads if op in USES_PAYLOAD else [32]
            out += [Plan(t, op, "closed", p, c) for p in payloads for c in s.concurrency]
            if op in BATCHABLE:
                out += [Plan(t, op, "batch", 32, c, batch=b) for b in s.batch_sizes for c in s.batch_concurrency]
            out += [Plan(t, op, "open", p, s.max_in_flight, rate=r) for p in payloads for r in s.rates]
    return out


class Loaders:
    """Persistent loader processes (spawned once: importing grpc costs more than a short cell).

    ``nice``: background load that must not be what a latency row measures runs niced, so a loader
    measuring latency beside it on the same cores is not kept waiting for the CPU by its own
    neighbours (the client it stands for, AWS KMS calling XKS say, runs on other machines)."""

    def __init__(self, count: int, *, nice: int = 0) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for i in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=loader_main, args=(theirs, nice), daemon=True, name=f"bench-load-{i}")
            proc.start()
            theirs.close()
            self.conns.append(ours)
            self.procs.append(proc)
        self.collect(range(count), 120)

    def collect(self, indices: Sequence[int] | range, timeout: float) -> list[Any]:
        out = []
        deadline = time.monotonic() + timeout
        for i in indices:
            while not self.conns[i].poll(0.2):
                if not self.procs[i].is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"loader {i} gave no answer (exit code {self.procs[i].exitcode})")
            status, value = self.conns[i].recv()
            if status != "ok":
                raise RuntimeError(f"loader {i}: {value}")
            out.append(value)
        return out

    def start(self, specs: Sequence[LoadSpec]) -> None:
        """Hand each loader its share; :meth:`collect` gathers the figures once the window is over."""
        for conn, spec in zip(self.conns, specs, strict=False):
            conn.send(("run", spec))

    def close(self) -> None:
        for conn, proc in zip(self.conns, self.procs, strict=True):
            if proc.is_alive():
                try:
                    conn.send(("quit", None))
                except OSError:
                    pass
            proc.join(5)
            if proc.is_alive():
                proc.terminate()


def load_specs(s: GwSettings, ep: Endpoint, fx: Fixture, plan: Plan, warm: int, start: int, end: int) -> list[LoadSpec]:
    """The plan split over the loader processes (concurrency or rate shared out, connections capped)."""
    n = min(s.client_processes, plan.concurrency) if plan.mode != "open" else s.client_processes
    specs = []
    for i in range(n):
        share = plan.concurrency // n + (1 if i < plan.concurrency % n else 0)
        specs.append(LoadSpec(
            ep, plan.transport, plan.operation, fx, plan.payload, plan.batch,
            share if plan.mode != "open" else max(1, s.max_in_flight // n), plan.rate / n if plan.rate else 0.0,
            _connections(s, plan, share, n),
            s.verify, s.timeout, warm, start, end,
        ))  # fmt: skip
    return specs


def _connections(s: GwSettings, plan: Plan, share: int, loaders: int) -> int:
    """gRPC multiplexes calls on a connection: ``--connections`` of them. HTTP/1.1 carries one call at a
    time: a closed loop gets one connection per caller (as wrk -c), an open loop ``--connections``."""
    if plan.mode == "open":
        return max(1, s.connections // loaders)
    if plan.transport == "rest":
        return max(1, share)
    return max(1, min(share, s.connections))


def window(s: GwSettings) -> tuple[int, int, int]:
    """(warm-up start, window start, window end) in time.monotonic_ns(), from now."""
    warm = time.monotonic_ns() + int(LEAD_S * 1e9)
    start = warm + int(s.warmup * 1e9)
    return warm, start, start + int(s.duration * 1e9)


def combine(figs: list[dict[str, Any]]) -> dict[str, Any]:
    """The loaders' figures of one window as one: rate, merged histogram, errors, client cores."""
    failed = next((f["failed"] for f in figs if "failed" in f), None)
    if failed:
        return {"failed": failed}
    hist = merged(f["histogram"] for f in figs)
    seconds = max(f["seconds"] for f in figs)
    return {
        "rate": sum(f["items"] for f in figs) / seconds,
        "hist": hist,
        "errors": result.merge_errors(f["errors"] for f in figs),
        "cores": sum(f["cpu_s"] for f in figs) / seconds,
        "dropped": sum(f["dropped"] for f in figs),
        "loaders": len(figs),
        "split": None,
    }


def measure(s: GwSettings, loaders: Loaders, ep: Endpoint, fx: Fixture, plan: Plan) -> dict[str, Any]:
    """One repeat of one cell: the loaders' figures combined, and the /metrics split of the window."""
    warm, start, end = window(s)
    specs = load_specs(s, ep, fx, plan, warm, start, end)
    loaders.start(specs)
    time.sleep(max(0.0, (start - time.monotonic_ns()) / 1e9))
    before = metrics.scrape(ep.rest_url)
    time.sleep(max(0.0, (end - time.monotonic_ns()) / 1e9))
    after = metrics.scrape(ep.rest_url)
    out = combine(loaders.collect(range(len(specs)), LEAD_S + s.warmup + s.duration + s.timeout + 120))
    if "failed" not in out and out["hist"].count:
        out["split"] = metrics.split(before, after, plan.transport, out["hist"].total_ns / out["hist"].count / 1e6)
    return out


def _fields(plan: Plan, workers: int | None, sign_spec: str) -> tuple[str, dict[str, Any]]:
    fields = {
        "layer": "gateway", "transport": plan.transport, "operation": plan.operation, "mode": plan.mode,
        "batch_size": plan.batch or None, "rate": plan.rate or None, "payload": plan.payload,
        "payload_applies": plan.operation in USES_PAYLOAD, "concurrency": plan.concurrency, "workers": workers,
        "key": sign_spec if plan.operation == "sign" else "AES_256",
    }  # fmt: skip
    cid = (
        f"gw/{plan.transport}/{plan.operation}/{plan.mode}/b{plan.batch}/{plan.payload}B/c{plan.concurrency}"
        f"/r{plan.rate:g}/w{workers or 0}"
    )
    return cid, fields


def _skipped(plan: Plan, workers: int | None, sign_spec: str, reason: str) -> dict[str, Any]:
    cid, fields = _fields(plan, workers, sign_spec)
    return result.cell(cid, fields, status="skipped", reason=reason)


def _cell(plan: Plan, workers: int | None, sign_spec: str, reps: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    cid, fields = _fields(plan, workers, sign_spec)
    failed = next((r["failed"] for r in reps if "failed" in r), None)
    if failed:
        return result.cell(cid, fields, status="failed", reason=failed)
    hist = merged(r["hist"] for r in reps)
    errors = result.merge_errors(r["errors"] for r in reps)
    splits = [r["split"] for r in reps if r["split"]]
    split = {k: round(sum(sp[k] for sp in splits) / len(splits), 4) for k in splits[0]} if splits else None
    status, reason = ("ok", "") if hist.count else ("failed", "no call succeeded: " + ", ".join(errors))
    cpu = result.client_cpu(sum(r["cores"] for r in reps) / len(reps), 1.0, reps[0]["loaders"], cores)
    unit = "items/s" if plan.batch else "calls/s"
    extra = {"time_split_ms": split, "dropped": sum(r["dropped"] for r in reps) if plan.mode == "open" else None}
    return result.cell(
        cid, fields, status=status, reason=reason, rates=[r["rate"] for r in reps], unit=unit, histogram=hist,
        errors=errors, cpu=cpu, extra=extra,
        bytes_per_op=plan.payload if plan.operation in USES_PAYLOAD and not plan.batch else None,
    )  # fmt: skip


def _sweep(
    s: GwSettings, ep: Endpoint, workers: int | None, tick: Callable[[str], None], cores: int
) -> list[dict[str, Any]]:
    available, cells = [], []
    for t in s.transports:
        why = DRIVERS[t].unavailable(ep)
        if why is None:
            available.append(t)
            continue
        for _ in plans(s, [t]):
            tick(f"{t} skipped")
        cells.append(_skipped(Plan(t, "*", "*", 0, 0), workers, s.sign_spec, why))  # one row per absent transport
    fx, made = make_keys(s, ep)
    loaders = Loaders(s.client_processes)
    try:
        todo = []
        for plan in plans(s, available):  # a call the transport does not have: one skipped row, no load
            why = DRIVERS[plan.transport].unsupported(plan.operation, plan.batch)
            if why is None:
                todo.append(plan)
                continue
            cells.append(_skipped(plan, workers, s.sign_spec, why))
            for _ in range(s.repeat):
                tick(f"{plan.transport} {plan.operation} skipped")
        reps: dict[Plan, list[dict[str, Any]]] = {p: [] for p in todo}
        for _ in range(s.repeat):
            for plan in todo:
                reps[plan].append(measure(s, loaders, ep, fx, plan))
                tick(f"{plan.transport} {plan.operation} {plan.mode} c{plan.concurrency}")
        cells += [_cell(p, workers, s.sign_spec, reps[p], cores) for p in todo]
    finally:
        loaders.close()
        retire_keys(s, ep, made)
    return cells


def total_runs(s: GwSettings) -> int:
    """Cells x repeats, the raw token's included: the progress bar's length."""
    steps = len(s.workers) if s.start else 1
    total = len(plans(s, s.transports)) * s.repeat * steps
    if s.with_raw:
        payloads = len(s.payloads) + 1 if USES_PAYLOAD & set(s.operations) else 1
        total += len({op == "sign" for op in s.operations}) * payloads * steps * s.repeat
    return total


def run_gateway(s: GwSettings, command: Sequence[str], tick: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    from gateway.bench.gw import server

    environment = env_mod.machine()
    run = result.new_run("gateway", command, environment, s.to_json())
    cores = environment["cores_usable"] or 1
    if not s.start:
        assert s.endpoint is not None
        environment["gateway"] = {
            "target": s.endpoint.grpc_target, "rest_url": s.endpoint.rest_url, "started": False,
            "version": metrics.gateway_version(s.endpoint.rest_url),
        }  # fmt: skip
        if s.with_raw and s.raw is not None:
            attach_raw(run, raw_settings(s, s.raw, [1]), tick)
        run["cells"] += _sweep(s, s.endpoint, None, tick, cores)
    else:
        with tempfile.TemporaryDirectory(prefix="kmsgw-bench-") as tmp:
            data_dir = Path(tmp) / "gateway"
            token = server.make_token(data_dir)
            environment["gateway"] = {"started": True, "version": env_mod.version_of("kmsgw"), "config": s.config}
            if s.with_raw:
                attach_raw(run, raw_settings(s, RawToken.of_data_dir(data_dir), s.workers), tick)
            for workers in s.workers:
                gw = server.start(data_dir, token, workers, s.config, Path(tmp) / "logs")
                environment["gateway"]["version"] = (
                    metrics.gateway_version(gw.rest_url) or environment["gateway"]["version"]
                )
                try:
                    ep = Endpoint(gw.grpc_target, gw.rest_url, gw.project_id, token)
                    run["cells"] += _sweep(replace(s, endpoint=None), ep, workers, tick, cores)
                finally:
                    gw.stop()
    run["software_token"] = run["software_token"] or env_mod.is_software_token(
        str((environment.get("token") or {}).get("model", "")), str((environment.get("module") or {}).get("path", ""))
    )
    _ratios(run, s.sign_spec)
    gw_cells = [c for c in run["cells"] if c["layer"] == "gateway" and c["mode"] != "open"]  # open loop: no curve
    raw_cells = [c for c in run["cells"] if c["layer"] == "p11"]
    group = ("transport", "operation", "mode", "batch_size", "payload", "workers")
    run["curves"] = result.curves(gw_cells, group, s.p99_budget_us)
    run["curves"] += result.curves(raw_cells, ("mechanism", "payload", "model"), s.p99_budget_us)
    return result.finish(run)


def _ratios(run: dict[str, Any], sign_spec: str) -> None:
    """Each gateway cell's throughput / the raw rate of its mechanism at as many processes as workers."""
    from gateway.bench.gw.ops import raw_mechanism, raw_payload

    raw = {
        (c["mechanism"], c["payload"], c["concurrency"]): c
        for c in run["cells"]
        if c["layer"] == "p11" and c["status"] == "ok"
    }
    for c in run["cells"]:
        if c["layer"] != "gateway" or c["status"] != "ok":
            continue
        mech, payload = raw_mechanism(c["operation"], sign_spec), raw_payload(c["operation"], c["payload"])
        candidates = sorted(
            (k[2], v) for k, v in raw.items() if k[:2] == (mech, payload) and k[2] <= (c["workers"] or 1)
        )
        if candidates:
            ref = candidates[-1][1]
            c["x_raw"] = round(c["throughput"]["mean"] / ref["throughput"]["mean"], 4)
            c["raw_ref"] = ref["id"]
