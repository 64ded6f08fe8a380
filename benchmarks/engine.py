"""The harness's rows measured by the packaged engine (``gateway.bench``, the code behind ``kmsgw bench``).

The raw rows run ``bench p11`` cells on the run's SoftHSM2 token; the gRPC rows (the echo
ceiling and the gateway alike) run ``bench gateway`` loaders, so every ratio between them compares
figures taken by one loader implementation. Each engine result document is kept in
``ctx.state["engine.runs"]``, and written beside RESULTS.md with ``--engine-json DIR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.harness import Context, Result, Skip
from gateway.bench.gw.ops import Endpoint, Fixture
from gateway.bench.gw.runner import GwSettings, Loaders, Plan, combine, load_specs, measure, window

COMMAND = ["python", "-m", "benchmarks"]


def _keep(ctx: Context, run: dict[str, Any]) -> None:
    runs = ctx.state.setdefault("engine.runs", [])
    assert isinstance(runs, list)
    runs.append(run)


def result_of(cell: dict[str, Any], unit: str, notes: str) -> Result:
    lat = cell.get("latency_us") or {}
    hist = cell.get("histogram") or {}
    return Result(
        rate=float(cell["throughput"]["mean"]),
        unit=unit,
        ops=int(hist.get("count", 0)),
        seconds=0.0,
        p50_ms=lat["p50"] / 1000.0 if lat.get("p50") is not None else None,
        p99_ms=lat["p99"] / 1000.0 if lat.get("p99") is not None else None,
        errors=int(cell["error_count"]),
        notes=notes,
    )


def raw_row(
    ctx: Context, mechanism: str, *, concurrency: int = 1, keys: str = "session", payload: int = 32,
    unit: str = "ops/s", notes: str = "",
) -> Result:  # fmt: skip
    """One ``bench p11`` cell on the run's token (worker processes that initialize the module themselves)."""
    from gateway.bench.p11.catalog import parse_mechanisms
    from gateway.bench.p11.runner import P11Settings, run_p11

    token = ctx.token()
    settings = P11Settings(
        module=token.module, token_label=token.label, pin=token.pin, mechanisms=parse_mechanisms(mechanism),
        payloads=[payload], concurrency=[concurrency], model="processes", keys=keys, duration=ctx.seconds,
        warmup=ctx.warmup, env={"SOFTHSM2_CONF": str(token.conf)},
    )  # fmt: skip
    run = run_p11(settings, COMMAND)
    _keep(ctx, run)
    [cell] = run["cells"]
    if cell["status"] != "ok":
        raise Skip(f"{mechanism}: {cell['status']}: {cell['reason']}")
    cpu = cell["client_cpu"]
    notes += f"; engine p99.9 {cell['latency_us']['p999'] / 1000:.3f} ms, {cpu['cores_used']:.2f} cores busy"
    return result_of(cell, unit, notes.lstrip("; "))


@dataclass
class GrpcLoad:
    """Engine loaders aimed at one gRPC target (a gateway or the echo server), stopped with the scenario."""

    ctx: Context
    endpoint: Endpoint
    loaders: Loaders

    @classmethod
    def open(cls, ctx: Context, target: str, token: str = "", rest_url: str | None = None) -> GrpcLoad:
        loaders = Loaders(1)
        ctx.on_exit(loaders.close)
        return cls(ctx, Endpoint(target, rest_url, None, token), loaders)

    def settings(self, connections: int, seconds: float | None, warmup: float | None, timeout: float) -> GwSettings:
        return GwSettings(
            endpoint=self.endpoint, duration=self.ctx.seconds if seconds is None else seconds,
            warmup=self.ctx.warmup if warmup is None else warmup, connections=connections, timeout=timeout,
            max_in_flight=4 * 64,
        )  # fmt: skip

    def figures(
        self, operation: str, fx: Fixture, *, concurrency: int = 64, connections: int = 1, rate: float = 0.0,
        batch: int = 0, payload: int = 32, seconds: float | None = None, warmup: float | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:  # fmt: skip
        """Closed loop (``concurrency`` in flight) or open loop (``rate``); the engine's combined figures."""
        s = self.settings(connections, seconds, warmup, timeout)
        mode = "open" if rate else ("batch" if batch else "closed")
        plan = Plan("grpc", operation, mode, payload, concurrency, batch=batch, rate=rate)
        out = measure(s, self.loaders, self.endpoint, fx, plan)
        if "failed" in out:
            raise RuntimeError(out["failed"])
        return out

    def row(self, operation: str, fx: Fixture, unit: str = "req/s", **kw: Any) -> Result:
        fig = self.figures(operation, fx, **kw)
        return to_result(fig, unit, describe(kw))

    def start(self, operation: str, fx: Fixture, *, concurrency: int, connections: int, seconds: float,
              warmup: float) -> Any:  # fmt: skip
        """A closed-loop load left running (for samplers); call the returned function to wait for its figures."""
        s = self.settings(connections, seconds, warmup, 5.0)
        plan = Plan("grpc", operation, "closed", 32, concurrency)
        specs = load_specs(s, self.endpoint, fx, plan, *window(s))
        self.loaders.start(specs)
        return lambda: combine(self.loaders.collect(range(len(specs)), warmup + seconds + 120))


def describe(kw: dict[str, Any]) -> str:
    conns = kw.get("connections", 1)
    over = f" over {conns} connections" if conns > 1 else ""
    if kw.get("rate"):
        return f"engine grpc.aio loader, open-loop {kw['rate']:g}/s{over}"
    return f"engine grpc.aio loader, {kw.get('concurrency', 64)} in flight{over}"


def to_result(fig: dict[str, Any], unit: str, notes: str) -> Result:
    hist = fig["hist"]
    seconds = hist.count / fig["rate"] if fig["rate"] else 0.0
    notes += f", {fig['dropped']} not sent (in-flight cap)" if fig.get("dropped") else ""
    return Result(
        rate=fig["rate"], unit=unit, ops=hist.count, seconds=seconds,
        p50_ms=(hist.quantile_ns(0.5) or 0) / 1e6 if hist.count else None,
        p99_ms=(hist.quantile_ns(0.99) or 0) / 1e6 if hist.count else None,
        errors=sum(fig["errors"].values()), notes=notes,
    )  # fmt: skip
