"""Both transports at once: does a busy REST listener starve gRPC (or the other way round)?

``gateway.mixed_fairness``: CreateDataKey over gRPC and over REST, driven by the same Python
driver shape on both (``benchmarks/mixed_driver.py``: 8 blocking threads, a connection each, one
driver process per transport), first each transport alone, then both in one window; each
transport's rate together divided by its rate alone is its *fraction of solo*. A fair gateway
keeps both fractions near each other (target: each >= 0.45, within 1.5 x of each other).
Rounds alternate the order (solo gRPC, solo REST, together; then together, solo REST, solo gRPC)
so a machine that gets busier or quieter during the row does not favour one phase.

``gateway.mixed_p99_250rps``: gRPC CreateDataKey at an open-loop 250 req/s (the engine's loader, as
``gateway.p99_at_500rps``), its p99 alone and while the REST driver runs flat out.

Both run ``kmsgw serve --workers 2``. The serving model is the gateway's own setting
(``[serve] model``); pass another with ``KMSGW_BENCH_CONFIG=FILE`` for an A/B
(``docs/architecture.md``, "Serving model"). ``KMSGW_BENCH_ROUNDS=N`` runs N rounds (default 1).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from benchmarks.harness import Context, ManagedProcess, Result, scenario
from benchmarks.scenarios.gateway import DEFAULT_WORKERS, PROJECT_ID, GatewayEndpoints, _finish, start_gateway

THREADS = 8  # per transport, each its own connection
OPEN_LOOP_RATE = 250.0
CHANNELS = 8
LEAD_S = 2.5  # a driver process imports, connects and warms up before its window opens


def _rounds() -> int:
    return max(1, int(os.environ.get("KMSGW_BENCH_ROUNDS", "1")))


def _driver(ctx: Context, gw: GatewayEndpoints, transport: str, start_at: float, seconds: float) -> ManagedProcess:
    port = gw.grpc_target.rsplit(":", 1)[1] if transport == "grpc" else gw.rest_url.rsplit(":", 1)[1]
    argv = [
        ctx.python, "-m", "benchmarks.mixed_driver", "--transport", transport, "--port", port,
        "--token-file", str(gw.token_file), "--project-id", PROJECT_ID, "--key-id", gw.key_id,
        "--threads", str(THREADS), "--start-at", f"{start_at:.6f}", "--seconds", f"{seconds:g}",
    ]  # fmt: skip
    return ctx.spawn(f"mixed-{transport}", argv)


def _collect(proc: ManagedProcess, timeout: float) -> dict[str, Any]:
    if proc.wait(timeout) != 0:
        raise RuntimeError(f"{proc.name} failed\n{proc.log_tail()}")
    return json.loads(proc.stdout_text().splitlines()[-1])


def _phase(ctx: Context, gw: GatewayEndpoints, transports: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """One window of ``ctx.seconds`` with the given drivers running (each alone, or both at once)."""
    start_at = time.monotonic() + LEAD_S + ctx.warmup
    procs = {t: _driver(ctx, gw, t, start_at, ctx.seconds) for t in transports}
    return {t: _collect(p, LEAD_S + ctx.warmup + ctx.seconds + 120) for t, p in procs.items()}


@scenario("gateway.mixed_fairness", "gateway CreateDataKey, gRPC and REST alone, then at once, 2 workers")
def mixed_fairness(ctx: Context) -> Result:
    """Each transport's rate alone and together; the fractions of solo are the row's point."""
    gw = start_gateway(ctx, DEFAULT_WORKERS)
    ops: dict[str, int] = {"grpc_solo": 0, "rest_solo": 0, "grpc_mixed": 0, "rest_mixed": 0}
    secs: dict[str, float] = dict.fromkeys(ops, 0.0)
    errors = 0
    p99: dict[str, float] = {}
    starved = {"grpc": 0, "rest": 0}  # whole seconds of the together window with no completed call
    phases = [("grpc",), ("rest",), ("grpc", "rest")]
    for n in range(_rounds()):
        for phase in phases if n % 2 == 0 else phases[::-1]:
            out = _phase(ctx, gw, phase)
            kind = "mixed" if len(phase) == 2 else "solo"
            for t, r in out.items():
                ops[f"{t}_{kind}"] += r["ops"]
                secs[f"{t}_{kind}"] += r["seconds"]
                errors += r["errors"]
                p99[f"{t}_{kind}"] = max(p99.get(f"{t}_{kind}", 0.0), r["p99_ms"] or 0.0)
                if kind == "mixed":
                    starved[t] += sum(1 for c in r["per_second"] if c == 0)
    rate = {k: ops[k] / secs[k] for k in ops}
    frac = {t: rate[f"{t}_mixed"] / rate[f"{t}_solo"] if rate[f"{t}_solo"] else 0.0 for t in ("grpc", "rest")}
    spread = max(frac.values()) / min(frac.values()) if min(frac.values()) > 0 else float("inf")
    result = Result(
        rate=rate["grpc_mixed"] + rate["rest_mixed"],
        unit="req/s",
        ops=ops["grpc_mixed"] + ops["rest_mixed"],
        seconds=secs["grpc_mixed"],
        p99_ms=max(p99["grpc_mixed"], p99["rest_mixed"]),
        errors=errors,
        notes=(
            f"together: gRPC {rate['grpc_mixed']:,.0f} req/s = {frac['grpc']:.2f} of its solo {rate['grpc_solo']:,.0f}"
            f", REST {rate['rest_mixed']:,.0f} = {frac['rest']:.2f} of its solo {rate['rest_solo']:,.0f}; spread "
            f"{spread:.2f} x; p99 together gRPC {p99['grpc_mixed']:.1f} / REST {p99['rest_mixed']:.1f} ms (solo "
            f"{p99['grpc_solo']:.1f} / {p99['rest_solo']:.1f}); {THREADS} threads per transport, a connection each, "
            f"one driver process each, {_rounds()} round(s); seconds at zero together: gRPC {starved['grpc']}, "
            f"REST {starved['rest']}"
        ),
        extra={
            "mixed: gRPC fraction of solo": frac["grpc"],
            "mixed: REST fraction of solo": frac["rest"],
            "mixed: fraction spread (larger / smaller)": spread,
            "mixed: gRPC solo req/s": rate["grpc_solo"],
            "mixed: REST solo req/s": rate["rest_solo"],
        },
    )
    return _finish(gw, result)


@scenario("gateway.mixed_p99_250rps", "gateway gRPC CreateDataKey p99 at 250 req/s, alone and beside REST flat out")
def mixed_p99_250rps(ctx: Context) -> Result:
    """p99 of an open-loop 250 req/s gRPC load, alone and while 8 REST threads run flat out."""
    gw = start_gateway(ctx, DEFAULT_WORKERS)
    load = gw.load(ctx)
    solo: list[dict[str, Any]] = []
    mixed: list[dict[str, Any]] = []
    rest_rates: list[float] = []
    for n in range(_rounds()):
        for together in (False, True) if n % 2 == 0 else (True, False):
            if not together:
                solo.append(load.figures("create_datakey", gw.fixture, rate=OPEN_LOOP_RATE, connections=CHANNELS))
                continue
            # REST runs over the whole engine window (its start-up, warm-up and measured seconds) and past it.
            span = ctx.warmup + ctx.seconds + 8.0
            rest = _driver(ctx, gw, "rest", time.monotonic() + LEAD_S, span)
            time.sleep(LEAD_S)
            mixed.append(load.figures("create_datakey", gw.fixture, rate=OPEN_LOOP_RATE, connections=CHANNELS))
            rest_rates.append(_collect(rest, span + 120)["rate"])
    solo_p99 = max(_p99(f) for f in solo)
    mixed_p99 = max(_p99(f) for f in mixed)
    hist = mixed[-1]["hist"]
    result = Result(
        rate=sum(f["rate"] for f in mixed) / len(mixed),
        unit="req/s",
        ops=sum(f["hist"].count for f in mixed),
        p50_ms=(hist.quantile_ns(0.5) or 0) / 1e6 if hist.count else None,
        p99_ms=mixed_p99,
        errors=sum(sum(f["errors"].values()) for f in (*solo, *mixed)),
        notes=(
            f"engine grpc.aio loader, open-loop {OPEN_LOOP_RATE:g}/s over {CHANNELS} connections; p99 beside REST "
            f"flat out {mixed_p99:.1f} ms, alone {solo_p99:.1f} ms ({mixed_p99 / solo_p99:.1f} x); REST meanwhile "
            f"{sum(rest_rates) / len(rest_rates):,.0f} req/s ({THREADS} threads); worst of {_rounds()} round(s)"
        ),
        extra={"p99 at 250 req/s alone, ms": solo_p99, "p99 at 250 req/s beside REST, ms": mixed_p99},
    )
    return _finish(gw, result)


def _p99(fig: dict[str, Any]) -> float:
    hist = fig["hist"]
    return (hist.quantile_ns(0.99) or 0) / 1e6 if hist.count else 0.0
