"""Load generators, each run in its own subprocess so the runner's own work never skews a figure.

Two are reusable as-is by the gateway scenarios:

* :func:`grpc_unary_load` drives any unary method with pre-serialized request bytes (no proto
  needed on the client side) and optional metadata (``x-auth-token``), either closed-loop (N calls
  always in flight) or open-loop at a fixed request rate, where latency is counted from each call's
  *scheduled* start so a slow server cannot hide its queueing (no coordinated omission).
  :func:`start_grpc_load` starts the same loader without waiting, for scenarios that sample the
  server (RSS, a profiler) while it runs.
* :func:`http_post_load` POSTs a fixed body with ``wrk`` when installed, else with an httpx loader.

Run as ``python -m benchmarks.loaders grpc|http ...``: prints one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import BENCH_DIR
from benchmarks.harness import Context, ManagedProcess, Result, percentile_ms

WRK_DIR = BENCH_DIR / "wrk"


# --------------------------------------------------------------------------------------------
# Parent side: start a loader, turn its JSON into a Result


def _run_loader(ctx: Context, name: str, argv: list[str], budget: float) -> dict[str, float]:
    proc = ctx.spawn(name, argv)
    code = proc.wait(budget)
    lines = [ln for ln in proc.stdout_text().splitlines() if ln.strip()]
    if code != 0 or not lines:
        raise RuntimeError(f"{name} exited {code}\n{proc.log_tail()}")
    return json.loads(lines[-1])


def _result(fig: dict[str, float], unit: str, notes: str) -> Result:
    return Result(
        rate=fig["rate"],
        unit=unit,
        ops=int(fig["ops"]),
        seconds=fig["seconds"],
        p50_ms=fig.get("p50_ms"),
        p99_ms=fig.get("p99_ms"),
        errors=int(fig.get("errors", 0)),
        notes=notes,
    )


@dataclass
class RunningLoad:
    """A loader subprocess already started; :meth:`result` waits for it and parses its figures."""

    ctx: Context
    proc: ManagedProcess
    budget: float  # seconds to wait for it, start-up and tail included
    unit: str
    notes: str

    def result(self) -> Result:
        code = self.proc.wait(self.budget)
        lines = [ln for ln in self.proc.stdout_text().splitlines() if ln.strip()]
        if code != 0 or not lines:
            raise RuntimeError(f"{self.proc.name} exited {code}\n{self.proc.log_tail()}")
        fig = json.loads(lines[-1])
        notes = self.notes
        if fig.get("dropped"):
            notes += f", {int(fig['dropped'])} not sent (in-flight cap)"
        return _result(fig, self.unit, notes)


def start_grpc_load(
    ctx: Context,
    target: str,
    method: str,
    payload: bytes,
    *,
    concurrency: int = 64,
    rate: float | None = None,
    timeout: float = 5.0,
    unit: str = "req/s",
    metadata: Sequence[tuple[str, str]] = (),
    seconds: float | None = None,
    warmup: float | None = None,
    channels: int = 1,
) -> RunningLoad:
    """Start the gRPC loader (see :func:`grpc_unary_load`) and return without waiting for it."""
    seconds = ctx.seconds if seconds is None else seconds
    warmup = ctx.warmup if warmup is None else warmup
    stem = ctx.workdir / f"payload-{len(ctx.results)}-{time.monotonic_ns()}"
    payload_file = stem.with_suffix(".bin")
    payload_file.write_bytes(payload)
    argv = [
        ctx.python, "-m", "benchmarks.loaders", "grpc",
        "--target", target, "--method", method, "--payload-file", str(payload_file),
        "--seconds", str(seconds), "--warmup", str(warmup),
        "--concurrency", str(concurrency), "--timeout", str(timeout), "--channels", str(channels),
    ]  # fmt: skip
    if metadata:
        metadata_file = stem.with_suffix(".metadata.json")
        metadata_file.write_text(json.dumps([list(pair) for pair in metadata]))
        argv += ["--metadata-file", str(metadata_file)]
    if rate:
        argv += ["--rate", str(rate)]
    mode = f"open-loop {rate:g}/s" if rate else f"{concurrency} in flight"
    if channels > 1:
        mode += f" over {channels} connections"
    proc = ctx.spawn("grpc-load", argv)
    return RunningLoad(ctx, proc, warmup + seconds + timeout + 30, unit, f"grpc.aio client, {mode}")


def grpc_unary_load(
    ctx: Context,
    target: str,
    method: str,
    payload: bytes,
    *,
    concurrency: int = 64,
    rate: float | None = None,
    timeout: float = 5.0,
    unit: str = "req/s",
    metadata: Sequence[tuple[str, str]] = (),
    seconds: float | None = None,
    warmup: float | None = None,
    channels: int = 1,
) -> Result:
    """Load ``method`` (e.g. ``"/pkg.Service/Method"``) at ``target`` with ``payload`` as request.

    Closed-loop with ``concurrency`` calls in flight, or open-loop at ``rate`` calls/s if given.
    ``metadata`` is sent with every call (e.g. ``[("x-auth-token", token)]``); it reaches the
    loader in a file, not in argv. ``seconds`` / ``warmup`` override the run's defaults.
    ``channels`` > 1 spreads the calls over that many connections, round-robin.
    """
    return start_grpc_load(
        ctx, target, method, payload, concurrency=concurrency, rate=rate, timeout=timeout, unit=unit,
        metadata=metadata, seconds=seconds, warmup=warmup, channels=channels,
    ).result()  # fmt: skip


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_load(
    ctx: Context, url: str, script: Path, script_args: list[str], *, threads: int = 2, connections: int = 16
) -> Result:
    """Run ``wrk`` with one of ``benchmarks/wrk/*.lua`` (each prints a ``WRKJSON`` summary line)."""

    def argv(secs: int) -> list[str]:
        return [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{secs}s", "--timeout", "5s",
            "-s", str(script), url, "--", *script_args,
        ]  # fmt: skip

    ctx.spawn("wrk-warmup", argv(1)).wait(40)  # untimed: lazy imports, caches, connection set-up
    secs = max(1, round(ctx.seconds))  # wrk takes whole seconds
    proc = ctx.spawn("wrk", argv(secs))
    code = proc.wait(secs + 30)
    summary = [ln for ln in proc.stdout_text().splitlines() if ln.startswith("WRKJSON ")]
    if code != 0 or not summary:
        raise RuntimeError(f"wrk exited {code}: {proc.stdout_text()[-500:]}\n{proc.log_tail()}")
    raw = json.loads(summary[-1].removeprefix("WRKJSON "))
    seconds = raw["duration_us"] / 1e6
    socket_errors = int(raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"])
    notes = f"wrk -t{threads} -c{connections}, {int(raw['status_errors'])} non-2xx/3xx"
    if socket_errors:
        notes += f", {socket_errors} socket errors"
    return Result(
        rate=raw["requests"] / seconds,
        unit="req/s",
        ops=int(raw["requests"]),
        seconds=seconds,
        p50_ms=raw["p50_us"] / 1000.0,
        p99_ms=raw["p99_us"] / 1000.0,
        errors=int(raw["status_errors"]) + socket_errors,
        notes=notes,
    )


def python_http_load(ctx: Context, url: str, body: bytes, headers: dict[str, str], *, connections: int = 16) -> Result:
    """The fallback when wrk is missing: an asyncio + httpx loader, closed loop."""
    body_file = ctx.workdir / f"body-{time.monotonic_ns()}.bin"
    body_file.write_bytes(body)
    argv = [
        ctx.python, "-m", "benchmarks.loaders", "http", "--url", url, "--body-file", str(body_file),
        "--seconds", str(ctx.seconds), "--warmup", str(ctx.warmup), "--concurrency", str(connections),
    ]  # fmt: skip
    for key, value in headers.items():
        argv += ["--header", f"{key}: {value}"]
    fig = _run_loader(ctx, "http-load", argv, ctx.warmup + ctx.seconds + 40)
    return _result(fig, "req/s", f"python httpx loader (no wrk), {connections} conns")


def http_post_load(
    ctx: Context, url: str, body: bytes, headers: dict[str, str], *, threads: int = 2, connections: int = 16
) -> Result:
    """POST ``body`` with ``headers`` to ``url`` for ``ctx.seconds``: wrk if present, else Python."""
    if wrk_available():
        args = [body.decode(), *(f"{k}: {v}" for k, v in headers.items())]
        return wrk_load(ctx, url, WRK_DIR / "post_json.lua", args, threads=threads, connections=connections)
    return python_http_load(ctx, url, body, headers, connections=connections)


# --------------------------------------------------------------------------------------------
# Child side: the measuring loops


class _Window:
    """Counts completions inside [start, end] and keeps their latencies."""

    def __init__(self, warmup: float, seconds: float) -> None:
        self.start = time.perf_counter() + warmup
        self.end = self.start + seconds
        self.latencies: list[float] = []
        self.errors = 0
        self.dropped = 0

    def figures(self, ops: int | None = None) -> dict[str, float | None]:
        lat = sorted(self.latencies)
        count = len(lat) if ops is None else ops
        seconds = self.end - self.start
        return {
            "ops": count,
            "seconds": seconds,
            "rate": count / seconds,
            "errors": self.errors,
            "dropped": self.dropped,
            "p50_ms": percentile_ms(lat, 50),
            "p99_ms": percentile_ms(lat, 99),
        }


async def _closed_loop(
    call: Callable[[], Awaitable[object]], is_ok: Callable[[object], bool], window: _Window, concurrency: int
) -> None:
    async def worker() -> None:
        failures_in_a_row = 0
        while (t0 := time.perf_counter()) < window.end:
            try:
                ok = is_ok(await call())
            except Exception:
                ok = False
            t1 = time.perf_counter()
            if ok:
                failures_in_a_row = 0
                if window.start <= t1 <= window.end:
                    window.latencies.append(t1 - t0)
            else:
                failures_in_a_row += 1
                if window.start <= t1 <= window.end:
                    window.errors += 1
                if failures_in_a_row > 100:  # the server is gone: do not spin for the whole window
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _open_loop(
    call: Callable[[], Awaitable[object]],
    is_ok: Callable[[object], bool],
    window: _Window,
    rate: float,
    max_in_flight: int,
    timeout: float,
) -> None:
    in_flight: set[asyncio.Task[None]] = set()
    first = time.perf_counter()

    async def one(scheduled: float) -> None:
        try:
            ok = is_ok(await call())
        except Exception:
            ok = False
        if scheduled >= window.start:  # measured calls are those *scheduled* inside the window
            if ok:
                window.latencies.append(time.perf_counter() - scheduled)
            else:
                window.errors += 1

    for i in range(math.ceil((window.end - first) * rate)):
        scheduled = first + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= max_in_flight:
            window.dropped += scheduled >= window.start
            continue
        task = asyncio.create_task(one(scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=timeout + 1)


async def _grpc_main(args: argparse.Namespace) -> dict[str, float | None]:
    import grpc

    payload = Path(args.payload_file).read_bytes()
    metadata = None
    if args.metadata_file:
        metadata = tuple((k, v) for k, v in json.loads(Path(args.metadata_file).read_text()))
    # One TCP connection per channel (a local subchannel pool stops channels to one target from
    # sharing one): a server of several SO_REUSEPORT processes only spreads load by connection.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(args.target, options=options) for _ in range(args.channels)]
    try:
        await asyncio.wait_for(asyncio.gather(*(ch.channel_ready() for ch in channels)), 20)
        stubs = itertools.cycle([ch.unary_unary(args.method) for ch in channels])  # bytes in, bytes out

        def call() -> Awaitable[object]:
            return next(stubs)(payload, timeout=args.timeout, metadata=metadata)

        window = _Window(args.warmup, args.seconds)
        if args.rate:
            await _open_loop(call, lambda _: True, window, args.rate, 4 * args.concurrency, args.timeout)
            # Open loop: the rate is what was *achieved* (calls scheduled in the window that succeeded).
            return window.figures()
        await _closed_loop(call, lambda _: True, window, args.concurrency)
        return window.figures()
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))


async def _http_main(args: argparse.Namespace) -> dict[str, float | None]:
    import httpx

    body = Path(args.body_file).read_bytes()
    headers = dict(h.split(": ", 1) for h in args.header)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:

        def call() -> Awaitable[object]:
            return client.post(args.url, content=body, headers=headers)

        window = _Window(args.warmup, args.seconds)
        await _closed_loop(call, lambda r: r.status_code < 400, window, args.concurrency)  # type: ignore[attr-defined]
        return window.figures()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loaders")
    sub = parser.add_subparsers(dest="kind", required=True)
    g = sub.add_parser("grpc")
    g.add_argument("--target", required=True)
    g.add_argument("--method", required=True)
    g.add_argument("--payload-file", required=True)
    g.add_argument("--rate", type=float, default=0.0)
    g.add_argument("--metadata-file", help='JSON [["key", "value"], ...] sent with every call')
    g.add_argument("--channels", type=int, default=1, help="connections, used round-robin")
    h = sub.add_parser("http")
    h.add_argument("--url", required=True)
    h.add_argument("--body-file", required=True)
    h.add_argument("--header", action="append", default=[])
    for p in (g, h):
        p.add_argument("--seconds", type=float, default=5.0)
        p.add_argument("--warmup", type=float, default=1.0)
        p.add_argument("--concurrency", type=int, default=64)
        p.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    runner = _grpc_main if args.kind == "grpc" else _http_main
    print(json.dumps(asyncio.run(runner(args))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
