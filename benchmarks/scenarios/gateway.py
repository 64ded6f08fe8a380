"""The gateway itself: data keys over gRPC (unary and batched) and REST, latency, memory, profile.

Every scenario starts its own ``kmsgw serve`` (fresh processes, so one row's queues, caches and
heap never carry into the next) on ephemeral loopback ports, and stops it when it ends. The data
dir is shared by the run: the first start initializes it -- the gateway's own SoftHSM2 token,
its SQLite store -- with ``kmsgw token create``, and one AES-256 master key is made by gRPC
``CreateKey``; data keys persist nothing, so the rows cannot disturb each other.

Rows without a suffix run ``--workers 2`` (the gateway's default here: one process per core);
``*_w1`` rows run ``--workers 1``. Either way the servers share the 2 cores with the load
generator. Loads: gRPC unary at 64 calls in flight over 8 connections (as ``grpc.echo``), open loop
at 500 req/s (as ``grpc.echo_500rps``), REST with ``wrk -t2 -c16`` (as the moto peer), batches of
1000 with 8 calls in flight, one connection each (SO_REUSEPORT spreads connections, not calls).
Every gRPC load is the packaged engine's (``gateway.bench``, as ``kmsgw bench gateway``), in its
own process, as for the echo rows, so the ratios compare one loader with itself.
The profile rows sample a ``--workers 1`` gateway under load with py-spy and perf.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchmarks.engine import GrpcLoad, to_result
from benchmarks.harness import (
    LOOPBACK,
    Context,
    ManagedProcess,
    Result,
    Skip,
    group_members,
    rss_kib,
    scenario,
)
from benchmarks.loaders import http_post_load
from gateway.bench.gw.ops import Fixture

PROJECT_ID = "bench"
TOKEN_TTL_S = 12 * 3600  # outlives a long soak; the data dir (and the token) is deleted after the run
UNARY_CONCURRENCY = 64  # as grpc.echo
CHANNELS = 8  # connections, as grpc.echo: `--workers 2` shares its ports by SO_REUSEPORT, per connection
BATCH_COUNT = 1000  # the batch RPCs' maximum
BATCH_CONCURRENCY = 8  # one connection each: spread over `--workers 2` by SO_REUSEPORT
OPEN_LOOP_RATE = 500.0  # as grpc.echo_500rps
SOAK_CONCURRENCY = 16  # closed loop: a steady load near the unary maximum
DEFAULT_WORKERS = 2  # `kmsgw serve` default on this machine: one per core


@dataclass(frozen=True)
class _Setup:
    """What the run's gateway data dir holds, made once by the first start."""

    data_dir: Path
    token: str
    token_file: Path
    key_id: str


@dataclass(frozen=True)
class GatewayEndpoints:
    process: ManagedProcess  # the `kmsgw serve` process (leads its own process group)
    grpc_target: str  # "127.0.0.1:PORT"
    rest_url: str  # "http://127.0.0.1:PORT"
    key_id: str  # a master key created for the run
    workers: int
    token: str  # bearer token for project PROJECT_ID
    token_file: Path

    @property
    def fixture(self) -> Fixture:
        return Fixture(key_id=self.key_id)

    def load(self, ctx: Context) -> GrpcLoad:
        """Engine loaders aimed at this gateway (its /metrics too), stopped with the scenario."""
        return GrpcLoad.open(ctx, self.grpc_target, self.token, self.rest_url)

    def worker_pids(self) -> list[int]:
        """The processes that serve: the parent with ``--workers 1``, else its spawned workers."""
        if self.workers == 1:
            return [self.process.pid]
        members = group_members(self.process.pid)
        return sorted(pid for pid, cmd in members.items() if "spawn_main" in cmd and pid != self.process.pid)

    def worker_restarts(self) -> int:
        return _log_messages(self.process).get("worker died; replacing it", 0)


def _gateway_env() -> dict[str, str]:
    """The gateway finds its token through its data dir's softhsm2.conf: hide the run's own."""
    return {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}


def _log_messages(proc: ManagedProcess) -> Counter[str]:
    counts: Counter[str] = Counter()
    try:
        text = proc.log_path.read_text(errors="replace")
    except FileNotFoundError:
        return counts
    for line in text.splitlines():
        try:
            counts[json.loads(line).get("msg", "")] += 1
        except (ValueError, AttributeError):
            continue
    return counts


def _wait_serving(proc: ManagedProcess, timeout: float = 120.0) -> tuple[int, int]:
    """Block until the gateway logs ``"msg": "serving"``; return its (grpc_port, rest_port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lines = proc.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("msg") == "serving":
                return int(entry["grpc_port"]), int(entry["rest_port"])
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited before serving\n{proc.log_tail()}")
        time.sleep(0.05)
    raise TimeoutError(f"{proc.name} not serving after {timeout:.0f}s\n{proc.log_tail()}")


def _run_child(ctx: Context, name: str, argv: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    proc = ctx.spawn(name, argv, env=env)
    if proc.wait(timeout) != 0:
        raise RuntimeError(f"{name} failed\n{proc.log_tail()}")
    return proc.stdout_text()


def start_gateway(
    ctx: Context, workers: int = DEFAULT_WORKERS, *, xks: bool = False, xks_listen: bool = False, aws: bool = False
) -> GatewayEndpoints:
    """Start ``kmsgw serve --workers N`` on ephemeral loopback ports; stopped with the scenario (``xks``: with
    the XKS endpoint too, ``xks_listen``: on a listener of its own, benchmarks/scenarios/xks.py; ``aws``: with
    the AWS KMS API, benchmarks/scenarios/aws.py).

    The first call of a run initializes the shared data dir (token, bearer token, master key).
    """
    setup = ctx.state.get("gateway.setup")
    data_dir = ctx.workdir / "gateway"
    env = _gateway_env()
    if setup is None:
        out = _run_child(
            ctx, "kmsgw-token",
            [ctx.python, "-m", "gateway", "token", "create", "--data-dir", str(data_dir),
             "--project-id", PROJECT_ID, "--ttl", str(TOKEN_TTL_S)],
            timeout=120, env=env,
        )  # fmt: skip
        token = json.loads(out)["token"]
        token_file = ctx.workdir / "gateway-token"
        token_file.write_text(token)
        token_file.chmod(0o600)
    else:
        assert isinstance(setup, _Setup)
        token, token_file = setup.token, setup.token_file
    argv = [
        ctx.python, "-m", "gateway", "serve", "--data-dir", str(data_dir), "--workers", str(workers),
        "--grpc-listen", f"{LOOPBACK}:0", "--rest-listen", f"{LOOPBACK}:0",
    ]  # fmt: skip
    if xks:
        argv.append("--xks")
    if xks_listen:
        argv += ["--xks-listen", f"{LOOPBACK}:0"]
    if aws:
        argv.append("--aws")
    if os.environ.get("KMSGW_BENCH_CONFIG"):  # A/B runs: a TOML laid over the defaults (e.g. [audit] off)
        argv += ["--config", os.environ["KMSGW_BENCH_CONFIG"]]
    proc = ctx.spawn(f"kmsgw-w{workers}", argv, env=env)
    grpc_port, rest_port = _wait_serving(proc)
    target = f"{LOOPBACK}:{grpc_port}"
    if setup is None:  # one AES-256 master key for the run, made by the engine over gRPC
        from gateway.bench.gw.ops import Endpoint
        from gateway.bench.gw.runner import GwSettings
        from gateway.bench.gw.setup import make_keys

        fx, _ = make_keys(
            GwSettings(endpoint=Endpoint(target, None, PROJECT_ID, token)), Endpoint(target, None, None, token)
        )
        setup = _Setup(data_dir, token, token_file, fx.key_id)
        ctx.state["gateway.setup"] = setup
    assert isinstance(setup, _Setup)
    return GatewayEndpoints(
        process=proc,
        grpc_target=target,
        rest_url=f"http://{LOOPBACK}:{rest_port}",
        key_id=setup.key_id,
        workers=workers,
        token=token,
        token_file=token_file,
    )


def _finish(gw: GatewayEndpoints, result: Result) -> Result:
    """Say which gateway configuration made the row, and whether a worker died meanwhile."""
    result.notes += f"; --workers {gw.workers}"
    restarts = gw.worker_restarts()
    if restarts:
        result.notes += f"; {restarts} worker restart(s) during the row (see the gateway log)"
    return result


# --------------------------------------------------------------------------------------------
# Unary gRPC


def _unary(ctx: Context, workers: int, operation: str) -> Result:
    """``create_datakey`` / ``decrypt_datakey`` (one data key made at set-up, replayed) at 64 in flight."""
    gw = start_gateway(ctx, workers)
    load = gw.load(ctx)
    result = load.row(operation, gw.fixture, concurrency=UNARY_CONCURRENCY, connections=CHANNELS)
    return _finish(gw, result)


def _unary_create(ctx: Context, workers: int) -> Result:
    return _unary(ctx, workers, "create_datakey")


def _unary_decrypt(ctx: Context, workers: int) -> Result:
    return _unary(ctx, workers, "decrypt_datakey")


@scenario("gateway.grpc_create_datakey", "gateway gRPC CreateDataKey, unary, 64 in flight, 2 workers")
def grpc_create_datakey(ctx: Context) -> Result:
    """Unary CreateDataKey requests/s with p50/p99, --workers 2 (compare with grpc.echo and raw.wrap)."""
    return _unary_create(ctx, 2)


@scenario("gateway.grpc_create_datakey_w1", "gateway gRPC CreateDataKey, unary, 64 in flight, 1 worker")
def grpc_create_datakey_w1(ctx: Context) -> Result:
    """Unary CreateDataKey requests/s with p50/p99, --workers 1 (one process, like the echo server)."""
    return _unary_create(ctx, 1)


@scenario("gateway.grpc_decrypt_datakey", "gateway gRPC DecryptDataKey, unary, 64 in flight, 2 workers")
def grpc_decrypt_datakey(ctx: Context) -> Result:
    """Unary DecryptDataKey requests/s with p50/p99, decrypting a ciphertext made at setup, --workers 2."""
    return _unary_decrypt(ctx, 2)


@scenario("gateway.grpc_decrypt_datakey_w1", "gateway gRPC DecryptDataKey, unary, 64 in flight, 1 worker")
def grpc_decrypt_datakey_w1(ctx: Context) -> Result:
    """Unary DecryptDataKey requests/s with p50/p99, --workers 1."""
    return _unary_decrypt(ctx, 1)


# --------------------------------------------------------------------------------------------
# Batches


def _batch(ctx: Context, workers: int) -> Result:
    """Three back-to-back engine windows: pairs (create then decrypt those keys, checked equal), then
    BatchCreateDataKey alone, then BatchDecryptDataKey of one batch replayed."""
    gw = start_gateway(ctx, workers)
    load = gw.load(ctx)
    kw = {"batch": BATCH_COUNT, "concurrency": BATCH_CONCURRENCY, "connections": BATCH_CONCURRENCY, "timeout": 60.0}
    pairs = load.figures("datakey_pair", gw.fixture, **kw)
    create = to_result(load.figures("create_datakey", gw.fixture, **kw), "keys/s", "")
    decrypt = to_result(load.figures("decrypt_datakey", gw.fixture, **kw), "keys/s", "")
    result = to_result(pairs, "pairs/s", "")
    result.errors += create.errors + decrypt.errors
    result.notes = (
        f"pair = a data key made by BatchCreateDataKey(count={BATCH_COUNT}) and then opened by "
        f"BatchDecryptDataKey of that batch (2 AES-GCM ops in the token), checked equal; "
        f"{BATCH_CONCURRENCY} create+decrypt rounds in flight; p50/p99 per round of {BATCH_COUNT}; "
        f"alone: create {create.rate:,.0f} keys/s, decrypt {decrypt.rate:,.0f} keys/s; engine loader"
    )
    result.extra = {
        "BatchCreateDataKey alone, keys/s": create.rate,
        "BatchCreateDataKey alone, p99 ms per call": create.p99_ms or 0.0,
        "BatchDecryptDataKey alone, keys/s": decrypt.rate,
        "BatchDecryptDataKey alone, p99 ms per call": decrypt.p99_ms or 0.0,
    }
    return _finish(gw, result)


@scenario("gateway.grpc_batch_pairs", "gateway gRPC batched data-key pairs (create + decrypt), 2 workers")
def grpc_batch_pairs(ctx: Context) -> Result:
    """Data-key pairs/s through the batch RPCs, 1000 per call, --workers 2: the HSM path with the
    per-call transport cost amortized; compare with raw.wrap and raw.wrap_2proc."""
    return _batch(ctx, 2)


@scenario("gateway.grpc_batch_pairs_w1", "gateway gRPC batched data-key pairs (create + decrypt), 1 worker")
def grpc_batch_pairs_w1(ctx: Context) -> Result:
    """Data-key pairs/s through the batch RPCs, 1000 per call, --workers 1."""
    return _batch(ctx, 1)


# --------------------------------------------------------------------------------------------
# REST


def _rest(ctx: Context, workers: int) -> Result:
    gw = start_gateway(ctx, workers)
    url = f"{gw.rest_url}/v1.0/{PROJECT_ID}/kms/create-datakey"
    body = json.dumps({"key_id": gw.key_id, "datakey_length": "256"}).encode()
    headers = {"X-Auth-Token": gw.token}
    _probe_rest(url, body, headers)
    # wrk (or, without it, the httpx loader the moto row uses too: the pair stays like for like) takes
    # headers in argv: the bearer token is visible to `ps` for the run. Acceptable for a throwaway
    # token of a throwaway data dir on loopback, deleted when the run ends.
    return _finish(gw, http_post_load(ctx, url, body, headers))


def _probe_rest(url: str, body: bytes, headers: dict[str, str]) -> None:
    """One request first: a load test that only counts 2xx must know it measures data keys."""
    request = urllib.request.Request(
        url, data=body, headers={**headers, "Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"create-datakey answered {exc.code}: {exc.read()[:300]!r}") from None
    if not {"key_id", "plain_text", "cipher_text"} <= answer.keys() or len(answer["plain_text"]) != 64:
        raise RuntimeError(f"create-datakey answered no data key: {sorted(answer)}")


@scenario("gateway.rest_create_datakey", "gateway REST create-datakey (wrk -t2 -c16), 2 workers")
def rest_create_datakey(ctx: Context) -> Result:
    """REST create-datakey requests/s and non-2xx count under wrk -t2 -c16, --workers 2 (compare with moto)."""
    return _rest(ctx, 2)


@scenario("gateway.rest_create_datakey_w1", "gateway REST create-datakey (wrk -t2 -c16), 1 worker")
def rest_create_datakey_w1(ctx: Context) -> Result:
    """REST create-datakey requests/s and non-2xx count under wrk -t2 -c16, --workers 1."""
    return _rest(ctx, 1)


# --------------------------------------------------------------------------------------------
# Latency at a fixed load


def _open_loop(ctx: Context, workers: int) -> Result:
    gw = start_gateway(ctx, workers)
    result = gw.load(ctx).row("create_datakey", gw.fixture, rate=OPEN_LOOP_RATE, connections=CHANNELS)
    handler = _histogram_quantiles(gw, "kmsgw_request_seconds", 'op="create_datakey",transport="grpc"')
    hsm = _histogram_quantiles(gw, "kmsgw_hsm_op_seconds", 'op="generate_data_keys"')
    if handler and hsm:
        result.notes += (
            f"; inside the gateway (its /metrics histograms, bucket bounds): handler p50 <= {handler[0]:g} ms, "
            f"p99 <= {handler[1]:g} ms, HSM job p50 <= {hsm[0]:g} ms, p99 <= {hsm[1]:g} ms"
        )
        result.extra.update({
            "server-side handler p99 <= ms": handler[1],
            "server-side HSM job p99 <= ms": hsm[1],
        })  # fmt: skip
    return _finish(gw, result)


def _histogram_quantiles(gw: GatewayEndpoints, name: str, labels: str) -> tuple[float, float] | None:
    """(p50, p99) upper bounds in ms of a Prometheus histogram the gateway serves at /metrics.

    Counts since the gateway started (warm-up included); bounds are bucket edges, so coarse.
    """
    try:
        with urllib.request.urlopen(f"{gw.rest_url}/metrics", timeout=30) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{") and labels in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    if not buckets or not buckets[-1][1]:
        return None
    total = buckets[-1][1]

    def bound(q: float) -> float:
        return next(le for le, count in buckets if count >= q * total) * 1000.0

    return bound(0.50), bound(0.99)


@scenario("gateway.p99_at_500rps", "gateway gRPC CreateDataKey, fixed 500 req/s, 2 workers")
def p99_at_500rps(ctx: Context) -> Result:
    """p50/p99 of CreateDataKey at an open-loop 500 req/s, --workers 2 (compare with grpc.echo_500rps)."""
    return _open_loop(ctx, 2)


@scenario("gateway.p99_at_500rps_w1", "gateway gRPC CreateDataKey, fixed 500 req/s, 1 worker")
def p99_at_500rps_w1(ctx: Context) -> Result:
    """p50/p99 of CreateDataKey at an open-loop 500 req/s, --workers 1."""
    return _open_loop(ctx, 1)


# --------------------------------------------------------------------------------------------
# Memory over a soak


def _rss_sum(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += rss_kib(pid)
        except (OSError, RuntimeError):  # a worker that died: its replacement is found next round
            continue
    return total


@scenario("gateway.soak_rss", "gateway RSS growth over a soak, 2 workers")
def soak_rss(ctx: Context) -> Result:
    """Worker RSS (summed) before and after a sustained CreateDataKey load, --workers 2. A full run
    soaks 60 s; --soak-seconds N or --only gateway.soak_rss (600 s) runs the issue's long soak."""
    gw = start_gateway(ctx, DEFAULT_WORKERS)
    soak = ctx.soak_seconds
    warmup = min(30.0, max(5.0, soak * 0.1))  # allocator arenas and caches settle before the baseline
    wait = gw.load(ctx).start("create_datakey", gw.fixture, concurrency=SOAK_CONCURRENCY, connections=CHANNELS,
                              seconds=soak, warmup=warmup)  # fmt: skip
    started = time.monotonic()
    interval = max(1.0, soak / 120)
    samples: list[tuple[float, int]] = []  # (seconds into the measured window, KiB)
    pids_seen: set[int] = set()
    while time.monotonic() - started < warmup + soak + 0.5:
        elapsed = time.monotonic() - started - warmup
        pids = gw.worker_pids()
        pids_seen.update(pids)
        if 0 <= elapsed <= soak:
            samples.append((elapsed, _rss_sum(pids)))
        time.sleep(interval)
    result = to_result(
        wait(), "req/s", f"engine grpc.aio loader, {SOAK_CONCURRENCY} in flight over {CHANNELS} connections"
    )
    if len(samples) < 3:
        raise RuntimeError(f"too few RSS samples ({len(samples)}) during the soak")
    base, end = samples[0][1], samples[-1][1]
    peak = max(kib for _, kib in samples)
    growth = 100.0 * (end - base) / base
    slope = _slope_per_minute(samples)
    per_10k = (end - base) / max(1, result.ops) * 10_000
    length = "the long soak" if ctx.soak_requested else "short soak of full runs; --soak-seconds 600 for the 10-min one"
    result.unit = "req/s"
    result.notes = (
        f"{soak:g} s, {length}; RSS of {len(gw.worker_pids())} worker processes summed: {base / 1024:.1f} -> "
        f"{end / 1024:.1f} MiB ({growth:+.2f} %), peak {peak / 1024:.1f} MiB, trend {slope:+.0f} KiB/min, "
        f"{per_10k:+.1f} KiB per 10k requests; {result.notes}"
    )
    if len(pids_seen) > gw.workers:
        result.notes += f"; worker pids changed during the soak ({len(pids_seen)} seen)"
    result.extra.update({
        "soak seconds": soak,
        "RSS at start of window, KiB": float(base),
        "RSS at end, KiB": float(end),
        "RSS growth, %": growth,
        "RSS trend, KiB/min": slope,
    })  # fmt: skip
    return _finish(gw, result)


def _slope_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, KiB per minute (a leak is a steady slope, not a step)."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if not var:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / var


# --------------------------------------------------------------------------------------------
# Where the time goes: py-spy (Python frames) then perf (native code, by shared object) on the
# serving process of `--workers 1`, each for its own window of one steady load.


def _tool(name: str) -> str | None:
    """A tool from the venv's bin (pip-installed, e.g. py-spy), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def _profile_window(ctx: Context) -> float:
    return max(5.0, ctx.seconds)


def _profile(ctx: Context, gw: GatewayEndpoints, what: str) -> tuple[str, dict[str, float]]:
    """Sample ``gw`` (already under load) with py-spy, then with perf; Markdown and figures."""
    from benchmarks import profile

    spy = _tool("py-spy")
    if spy is None:
        raise Skip("py-spy not installed (.venv/bin/pip install py-spy)")
    window = _profile_window(ctx)
    pid = str(gw.process.pid)
    raw = ctx.workdir / f"py-spy-{time.monotonic_ns()}.txt"
    spy_proc = ctx.spawn(
        "py-spy",
        [spy, "record", "--pid", pid, "--duration", str(round(window)), "--rate", "100", "--threads", "--gil",
         "--format", "raw", "--output", str(raw)],
    )  # fmt: skip
    if spy_proc.wait(window + 60) != 0 or not raw.exists():
        raise RuntimeError(f"py-spy failed\n{spy_proc.log_tail()}")
    summary = profile.summarize(raw.read_text())
    how = f"{what}; `kmsgw serve --workers 1`, {round(window)} s"
    parts = [summary.markdown(f"`py-spy record --rate 100 --threads --gil`, {how}")]
    figures = summary.figures()

    perf = shutil.which("perf")
    if perf is None:
        parts.append("(perf not installed: no native-code breakdown.)\n")
        return "\n".join(parts), figures
    data = ctx.workdir / f"perf-{time.monotonic_ns()}.data"
    rec = ctx.spawn("perf-record", [perf, "record", "-F", "499", "-p", pid, "-o", str(data), "--", "sleep",
                                    str(round(window))])  # fmt: skip
    if rec.wait(window + 60) != 0 or not data.exists():
        parts.append(f"(perf record failed: {rec.log_tail(3).strip()})\n")
        return "\n".join(parts), figures
    rep = ctx.spawn("perf-report", [perf, "report", "-i", str(data), "--sort", "dso", "--stdio", "--no-children",
                                    "-g", "none"])  # fmt: skip
    rep.wait(120)
    dso = profile.summarize_perf_dso(rep.stdout_text())
    parts.append(dso.markdown(f"`perf record -F 499 -p PID` (all threads, native code included), {how}"))
    figures["perf: HSM work (SoftHSM2, libcrypto, python-pkcs11), % of CPU"] = dso.groups.get(profile.HSM_WORK, 0.0)
    return "\n".join(parts), figures


@scenario("gateway.profile_create_datakey", "gateway CreateDataKey under py-spy + perf, 64 in flight, 1 worker")
def profile_create_datakey(ctx: Context) -> Result:
    """Profiles the serving process (--workers 1) while unary CreateDataKey runs at 64 in flight:
    py-spy for Python frames, then perf for native code; the rate is under sampling, not a headline."""
    gw = start_gateway(ctx, 1)
    window = _profile_window(ctx)
    warmup = ctx.warmup + 0.5
    wait = gw.load(ctx).start("create_datakey", gw.fixture, concurrency=UNARY_CONCURRENCY, connections=CHANNELS,
                              seconds=2 * window + 2, warmup=warmup)  # fmt: skip
    time.sleep(warmup + 0.5)
    details, figures = _profile(ctx, gw, f"unary CreateDataKey at {UNARY_CONCURRENCY} in flight")
    result = to_result(
        wait(), "req/s", f"engine grpc.aio loader, {UNARY_CONCURRENCY} in flight over {CHANNELS} connections"
    )
    result.notes += "; rate under py-spy and perf sampling, not a headline figure"
    result.details = details
    result.extra.update(figures)
    return _finish(gw, result)


@scenario("gateway.profile_batch_pairs", "gateway batched pairs under py-spy + perf, 1 worker")
def profile_batch_pairs(ctx: Context) -> Result:
    """Profiles the serving process (--workers 1) during the batched create+decrypt rounds of
    gateway.grpc_batch_pairs: where the time goes once the per-call transport cost is amortized."""
    gw = start_gateway(ctx, 1)
    window = _profile_window(ctx)
    warmup = ctx.warmup + 0.5
    load = gw.load(ctx)
    fx = gw.fixture
    with ThreadPoolExecutor(1) as pool:  # the load runs while this thread samples the server
        kw = {"batch": BATCH_COUNT, "concurrency": BATCH_CONCURRENCY, "connections": BATCH_CONCURRENCY}
        pairs = pool.submit(load.figures, "datakey_pair", fx, seconds=2 * window + 2, warmup=warmup, timeout=60.0, **kw)
        time.sleep(warmup + 0.5)
        details, figures = _profile(ctx, gw, f"batched pairs, {BATCH_CONCURRENCY} rounds of {BATCH_COUNT} in flight")
        result = to_result(pairs.result(), "pairs/s", "as gateway.grpc_batch_pairs_w1; rate under py-spy and perf "
                           "sampling, not a headline figure")  # fmt: skip
    result.details, result.extra = details, figures
    return _finish(gw, result)
