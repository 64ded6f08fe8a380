"""64 callers per transport (gRPC and REST at once) on every hot operation, ``--workers 2``.

The figures behind ``tests/system/test_load.py`` (which asserts zero errors, live workers and bounded RSS
over a short run): each transport's load runs in its own driver process
(``benchmarks/callers64.py``), every caller cycling through create-datakey (with and without
plaintext), encrypt/decrypt-datakey, encrypt/decrypt-data, gen-random and the batch calls
(50 items each), every answer checked. The rate counts calls (a batch call is one); the notes
split it per transport and give the workers' RSS before and after the window.
"""

from __future__ import annotations

import json
import time

from benchmarks.harness import Context, Result, scenario
from benchmarks.scenarios.gateway import DEFAULT_WORKERS, PROJECT_ID, _finish, _rss_sum, start_gateway

CALLERS = 64
WARMUP_S = 3.0


@scenario("gateway.load_64_callers", "gateway, 64 gRPC + 64 REST callers on every hot operation, 2 workers")
def load_64_callers(ctx: Context) -> Result:
    """Calls/s of 64 gRPC and 64 REST callers at once, each cycling through every hot operation."""
    gw = start_gateway(ctx, DEFAULT_WORKERS)
    seconds = max(ctx.seconds, 10.0)
    drivers = {}
    for transport in ("grpc", "rest"):
        port = gw.grpc_target.rsplit(":", 1)[1] if transport == "grpc" else gw.rest_url.rsplit(":", 1)[1]
        argv = [
            ctx.python, "-m", "benchmarks.callers64", "--transport", transport, "--port", port,
            "--token-file", str(gw.token_file), "--project-id", PROJECT_ID, "--key-id", gw.key_id,
            "--seconds", str(seconds), "--warmup", str(WARMUP_S), "--callers", str(CALLERS),
        ]  # fmt: skip
        drivers[transport] = ctx.spawn(f"callers64-{transport}", argv)
    time.sleep(WARMUP_S + 0.5)
    before = _rss_sum(gw.worker_pids())
    out = {}
    for transport, proc in drivers.items():
        if proc.wait(seconds + WARMUP_S + 180) != 0:
            raise RuntimeError(f"{transport} driver failed\n{proc.log_tail()}")
        out[transport] = json.loads(proc.stdout_text().splitlines()[-1])
    after = _rss_sum(gw.worker_pids())
    window = max(r["seconds"] for r in out.values())
    calls = {t: sum(r["ops"].values()) for t, r in out.items()}
    p99 = max(r["p99_ms"] or 0.0 for r in out.values())
    p50 = max(r["p50_ms"] or 0.0 for r in out.values())
    result = Result(
        rate=sum(calls.values()) / window,
        unit="calls/s",
        ops=sum(calls.values()),
        seconds=window,
        p50_ms=p50,
        p99_ms=p99,
        errors=sum(int(r["errors"]) for r in out.values()),
        notes=(
            f"{CALLERS} gRPC + {CALLERS} REST callers (8 gRPC connections, 64 HTTP/1.1 keep-alive ones), each "
            f"cycling through all hot operations and checking every answer; batches of 50; p50/p99 of one step "
            f"(1-3 calls), the slower transport's; gRPC {calls['grpc'] / window:,.0f} calls/s (step p99 "
            f"{out['grpc']['p99_ms']:.0f} ms), REST {calls['rest'] / window:,.0f} calls/s (step p99 "
            f"{out['rest']['p99_ms']:.0f} ms); worker RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB"
        ),
        extra={
            "64 callers: gRPC calls/s": calls["grpc"] / window,
            "64 callers: REST calls/s": calls["rest"] / window,
            "64 callers: worker RSS growth, %": 100.0 * (after - before) / max(1, before),
        },
    )
    return _finish(gw, result)
