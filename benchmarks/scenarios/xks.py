"""The XKS proxy API (AWS KMS External Key Store): the latency AWS KMS sees, alone and under load.

AWS KMS gives up on an XKS call after 250 ms (network and TLS from an AWS region included) and
recommends <= 35 ms round trip, so these rows are about latency, not throughput:

``gateway.xks_open_loop``: XKS Encrypt of 32 bytes (what KMS GenerateDataKey sends) and Decrypt of
one, SigV4-signed, at an open-loop 250 req/s each on loopback (the engine's loader, timed from the
scheduled send); p50/p99 with their ratio to the REST create-datakey row of the same run (when it
ran) and to REST create-datakey at the same rate and loader (always).

``gateway.xks_p99_mixed``: the same XKS Encrypt load while the gRPC and REST hot paths run flat out
(CreateDataKey, gRPC 64 in flight over 8 connections, REST 16 callers, one connection each), against
that same load alone, with XKS on the HTTP listener (the default): it shares the HTTP workers'
event loops, HSM executors and CPU with REST.

``gateway.xks_p99_mixed_own``: the same with ``[xks] listen``: XKS on a listener of its own, served
by worker processes of its own (the split serving model), which wait on no bulk work.

All run ``kmsgw serve --workers 2 --xks`` beside the load generators on the same two cores.
"""

from __future__ import annotations

import json
import time
from typing import Any

from benchmarks.harness import Context, Result, scenario
from benchmarks.scenarios.gateway import DEFAULT_WORKERS, PROJECT_ID, GatewayEndpoints, _finish, start_gateway
from gateway.bench.gw.ops import Endpoint
from gateway.bench.gw.runner import GwSettings, Loaders, Plan, combine, load_specs, measure, window

RATE = 250.0  # XKS calls/s, open loop
CONNECTIONS = 8
GRPC_IN_FLIGHT = 64
REST_CALLERS = 16
BACKGROUND_NICE = 10
XKS_PREFIX = "bench"


def _xks_endpoint(ctx: Context, gw: GatewayEndpoints, base: str) -> Endpoint:
    """The run's keystore (made once) with the run's key mapped under its own id."""
    setup = ctx.state.get("xks.setup")
    if setup is None:
        data_dir = str(ctx.workdir / "gateway")
        out = _kmsgw(ctx, "xks", "keystore", "create", "--uri-prefix", XKS_PREFIX, "--project-id", PROJECT_ID,
                     "--data-dir", data_dir)  # fmt: skip
        config = json.loads(out)
        _kmsgw(ctx, "xks", "key", "add", "--uri-prefix", XKS_PREFIX, "--key-id", gw.key_id, "--data-dir", data_dir)
        cred = config["XksProxyAuthenticationCredential"]
        setup = (config["XksProxyUriPath"], f"{cred['AccessKeyId']}:{cred['RawSecretAccessKey']}")
        ctx.state["xks.setup"] = setup
    assert isinstance(setup, tuple)
    path, credential = setup
    return Endpoint(gw.grpc_target, gw.rest_url, PROJECT_ID, gw.token, None, base + path, credential)


def _own_listener_url(gw: GatewayEndpoints) -> str:
    """The XKS listener's URL, from the gateway's "serving" log line (``[xks] listen``)."""
    for line in gw.process.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("msg") == "serving" and entry.get("xks_port"):
            return f"http://127.0.0.1:{int(entry['xks_port'])}"
    raise RuntimeError("the gateway did not announce an XKS listener of its own")


def _kmsgw(ctx: Context, *args: str) -> str:
    from benchmarks.scenarios.gateway import _gateway_env, _run_child

    return _run_child(ctx, "kmsgw-xks", [ctx.python, "-m", "gateway", *args], timeout=120, env=_gateway_env())


def _settings(ctx: Context, ep: Endpoint) -> GwSettings:
    return GwSettings(endpoint=ep, duration=ctx.seconds, warmup=ctx.warmup, connections=CONNECTIONS, timeout=5.0,
                      max_in_flight=4 * 64)  # fmt: skip


def _open(transport: str, operation: str) -> Plan:
    return Plan(transport, operation, "open", 32, 4 * 64, rate=RATE)


def _ms(fig: dict[str, Any], q: float) -> float:
    hist = fig["hist"]
    return (hist.quantile_ns(q) or 0) / 1e6 if hist.count else 0.0


def _errors(*figs: dict[str, Any]) -> int:
    return sum(sum(f["errors"].values()) for f in figs)


def _error_kinds(*figs: dict[str, Any]) -> str:
    """The notes' "; errors: KIND x N, ..." when any call failed (nothing otherwise)."""
    kinds: dict[str, int] = {}
    for f in figs:
        for kind, n in f["errors"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    return "; errors: " + ", ".join(f"{k} x {n}" for k, n in sorted(kinds.items())) if kinds else ""


def _reference(ctx: Context) -> tuple[float, float] | None:
    """p50/p99 of the run's REST create-datakey row, when the run measured it."""
    row = ctx.results.get("gateway.rest_create_datakey")
    if row is None or not row.p50_ms or not row.p99_ms:
        return None
    return row.p50_ms, row.p99_ms


def _start(ctx: Context, own_listener: bool = False) -> tuple[GatewayEndpoints, Endpoint, Loaders]:
    gw = start_gateway(ctx, DEFAULT_WORKERS, xks=True, xks_listen=own_listener)
    ep = _xks_endpoint(ctx, gw, _own_listener_url(gw) if own_listener else gw.rest_url)
    loaders = Loaders(1)
    ctx.on_exit(loaders.close)
    return gw, ep, loaders


def _ratios(p50: float, p99: float, ref: tuple[float, float], what: str) -> str:
    return f"{p50 / ref[0]:.2f} x / {p99 / ref[1]:.2f} x the p50/p99 of {what}"


def _describe(ctx: Context, p50: float, p99: float, same_rate: dict[str, Any]) -> tuple[str, dict[str, float]]:
    rest50, rest99 = _ms(same_rate, 0.5), _ms(same_rate, 0.99)
    notes = [_ratios(p50, p99, (rest50, rest99), f"REST create-datakey at {RATE:g}/s ({rest50:.2f} / {rest99:.2f} ms)")]
    extra = {"REST create-datakey same rate p50 ms": rest50, "REST create-datakey same rate p99 ms": rest99}
    ref = _reference(ctx)
    if ref is not None:
        notes.append(_ratios(p50, p99, ref, "the gateway.rest_create_datakey row"))
        extra |= {"p50 / rest_create_datakey row": p50 / ref[0], "p99 / rest_create_datakey row": p99 / ref[1]}
    return "; ".join(notes), extra


@scenario("gateway.xks_open_loop", "gateway XKS Encrypt/Decrypt (32 B) at open-loop 250/s, 2 workers")
def xks_open_loop(ctx: Context) -> Result:
    """XKS Encrypt p50/p99 (Decrypt in the notes) and their ratio to REST create-datakey."""
    gw, ep, loaders = _start(ctx)
    s = _settings(ctx, ep)
    enc = measure(s, loaders, ep, gw.fixture, _open("xks", "create_datakey"))
    dec = measure(s, loaders, ep, gw.fixture, _open("xks", "decrypt_datakey"))
    rest = measure(s, loaders, ep, gw.fixture, _open("rest", "create_datakey"))
    for fig in (enc, dec, rest):
        if "failed" in fig:
            raise RuntimeError(fig["failed"])
    p50, p99 = _ms(enc, 0.5), _ms(enc, 0.99)
    notes, extra = _describe(ctx, p50, p99, rest)
    extra |= {"XKS Decrypt p50 ms": _ms(dec, 0.5), "XKS Decrypt p99 ms": _ms(dec, 0.99)}
    result = Result(
        rate=enc["rate"], unit="req/s", ops=enc["hist"].count, seconds=ctx.seconds, p50_ms=p50, p99_ms=p99,
        errors=_errors(enc, dec, rest),
        notes=f"XKS Encrypt (32 B, SigV4) open loop; Decrypt {_ms(dec, 0.5):.2f} / {_ms(dec, 0.99):.2f} ms; {notes}"
        + _error_kinds(enc, dec, rest),
        extra=extra,
    )  # fmt: skip
    return _finish(gw, result)


@scenario("gateway.xks_p99_mixed", "gateway XKS Encrypt p99 at 250/s beside gRPC and REST flat out, 2 workers")
def xks_p99_mixed(ctx: Context) -> Result:
    """XKS Encrypt p99 at 250/s alone, then while the gRPC and REST hot paths are loaded (XKS on the HTTP listener)."""
    return _mixed(ctx, own_listener=False)


@scenario(
    "gateway.xks_p99_mixed_own",
    "gateway XKS Encrypt p99 at 250/s beside gRPC and REST flat out, XKS on its own listener, 2 workers",
)
def xks_p99_mixed_own(ctx: Context) -> Result:
    """The same with ``[xks] listen``: XKS served by worker processes of its own."""
    return _mixed(ctx, own_listener=True)


def _mixed(ctx: Context, *, own_listener: bool) -> Result:
    gw, ep, loaders = _start(ctx, own_listener)
    s = _settings(ctx, ep)
    solo = measure(s, loaders, ep, gw.fixture, _open("xks", "create_datakey"))
    rest_ref = measure(s, loaders, ep, gw.fixture, _open("rest", "create_datakey"))
    # gRPC and REST flat out, each in its own loader process, niced: on these shared cores the XKS
    # loader (AWS KMS, which runs elsewhere) must not wait for the CPU behind them, or the row
    # measures its own load generator (benchmarks/ANALYSIS.md, "XKS under mixed load").
    background = Loaders(2, nice=BACKGROUND_NICE)
    ctx.on_exit(background.close)
    warm, start, end = window(s)
    grpc_plan = Plan("grpc", "create_datakey", "closed", 32, GRPC_IN_FLIGHT)
    rest_plan = Plan("rest", "create_datakey", "closed", 32, REST_CALLERS)
    bg_specs = [
        load_specs(s, ep, gw.fixture, grpc_plan, warm, start, end)[0],
        load_specs(s, ep, gw.fixture, rest_plan, warm, start, end)[0],  # a connection per caller
    ]
    background.start(bg_specs)
    xks_specs = load_specs(s, ep, gw.fixture, _open("xks", "create_datakey"), warm, start, end)
    loaders.start(xks_specs)
    time.sleep(max(0.0, (end - time.monotonic_ns()) / 1e9))
    mixed = combine(loaders.collect(range(len(xks_specs)), s.timeout + 120))
    grpc_fig, rest_fig = (combine([f]) for f in background.collect(range(2), s.timeout + 120))
    for fig in (solo, rest_ref, mixed, grpc_fig, rest_fig):
        if "failed" in fig:
            raise RuntimeError(fig["failed"])
    p50, p99 = _ms(mixed, 0.5), _ms(mixed, 0.99)
    solo99 = _ms(solo, 0.99)
    notes, extra = _describe(ctx, p50, p99, rest_ref)
    extra |= {
        "XKS alone p50 ms": _ms(solo, 0.5),
        "XKS alone p99 ms": solo99,
        "p99 mixed / alone": p99 / solo99 if solo99 else 0.0,
        "gRPC CreateDataKey req/s meanwhile": grpc_fig["rate"],
        "REST create-datakey req/s meanwhile": rest_fig["rate"],
    }
    result = Result(
        rate=mixed["rate"], unit="req/s", ops=mixed["hist"].count, seconds=ctx.seconds, p50_ms=p50, p99_ms=p99,
        errors=_errors(solo, mixed, rest_ref),
        notes=(f"XKS Encrypt at {RATE:g}/s while gRPC ({grpc_fig['rate']:,.0f} req/s, {GRPC_IN_FLIGHT} in flight) and "
               f"REST ({rest_fig['rate']:,.0f} req/s, {REST_CALLERS} callers) run flat out; alone p99 {solo99:.2f} ms "
               f"({p99 / solo99 if solo99 else 0:.2f} x); {notes}"
               + ("; XKS on a listener of its own ([xks] listen)" if own_listener else "")
               + _error_kinds(solo, mixed, rest_ref)),
        extra=extra,
    )  # fmt: skip
    return _finish(gw, result)
