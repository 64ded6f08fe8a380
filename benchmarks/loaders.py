"""HTTP load for the rows that compare with the moto peer: ``wrk`` when installed, else an httpx loader.

Every gRPC load (echo ceiling, gateway rows) and the raw token rows come from the packaged engine
(``benchmarks/engine.py``); what stays here is the like-for-like HTTP pair: wrk against moto and
against the gateway's REST API. Each loader runs in its own subprocess.

Run as ``python -m benchmarks.loaders http ...``: prints one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks import BENCH_DIR
from benchmarks.harness import Context, Result, percentile_ms

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
    h = sub.add_parser("http")
    h.add_argument("--url", required=True)
    h.add_argument("--body-file", required=True)
    h.add_argument("--header", action="append", default=[])
    h.add_argument("--seconds", type=float, default=5.0)
    h.add_argument("--warmup", type=float, default=1.0)
    h.add_argument("--concurrency", type=int, default=64)
    h.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(_http_main(args))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
