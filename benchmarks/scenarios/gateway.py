"""Slots for the gateway's own scenarios: TO BE FILLED IN once the gateway can be started.

Each function below is registered and runs in every full run; until it is implemented it raises
``NotImplementedError`` and the runner prints it as skipped with the reason. To implement one:

* start the gateway with :func:`start_gateway` (to be written: spawn it through ``ctx.spawn`` with
  the run's token from ``ctx.token()``, ephemeral loopback ports, wait until it answers), then
* drive it with the existing loaders -- :func:`benchmarks.loaders.grpc_unary_load` takes a method
  path and pre-serialized request bytes (closed loop, or ``rate=`` for open loop);
  :func:`benchmarks.loaders.http_post_load` POSTs a body with wrk (``wrk/post_json.lua``) or Python;
  :func:`benchmarks.harness.rss_kib` reads a process's RSS --
* and return a :class:`benchmarks.harness.Result` (``rate`` in ``unit`` per second, ``p50_ms``,
  ``p99_ms``, ``errors``, ``notes``). Keep the scenario names: ``report.RATIOS`` refers to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.harness import Context, ManagedProcess, Result, scenario

NOT_WIRED = "gateway not wired into the harness yet (benchmarks/scenarios/gateway.py)"


@dataclass(frozen=True)
class GatewayEndpoints:
    process: ManagedProcess  # for RSS sampling (process.pid)
    grpc_target: str  # "127.0.0.1:PORT"
    rest_url: str  # "http://127.0.0.1:PORT"
    key_id: str  # a master key created for the run


def start_gateway(ctx: Context) -> GatewayEndpoints:
    """Start the gateway against ``ctx.token()`` on ephemeral loopback ports; stopped with the scenario."""
    raise NotImplementedError(NOT_WIRED)


@scenario("gateway.grpc_create_datakey", "gateway gRPC CreateDataKey, unary, 64 in flight")
def grpc_create_datakey(ctx: Context) -> Result | None:
    """Unary CreateDataKey requests/s with p50/p99 (compare with grpc.echo and raw.wrap)."""
    raise NotImplementedError(NOT_WIRED)


@scenario("gateway.grpc_decrypt_datakey", "gateway gRPC DecryptDataKey, unary, 64 in flight")
def grpc_decrypt_datakey(ctx: Context) -> Result | None:
    """Unary DecryptDataKey requests/s with p50/p99, decrypting a ciphertext made at setup."""
    raise NotImplementedError(NOT_WIRED)


@scenario("gateway.grpc_batch_pairs", "gateway gRPC batched data-key pairs")
def grpc_batch_pairs(ctx: Context) -> Result | None:
    """Data-key pairs/s through the batch RPC (unit "pairs/s" = calls/s x batch size): the HSM path
    with the per-call transport cost amortized; compare with raw.wrap and raw.wrap_2proc."""
    raise NotImplementedError(NOT_WIRED)


@scenario("gateway.rest_create_datakey", "gateway REST create-datakey (wrk -t2 -c16)")
def rest_create_datakey(ctx: Context) -> Result | None:
    """REST create-datakey requests/s and non-2xx count under wrk -t2 -c16 (compare with moto)."""
    raise NotImplementedError(NOT_WIRED)


@scenario("gateway.p99_at_500rps", "gateway gRPC CreateDataKey, fixed 500 req/s")
def p99_at_500rps(ctx: Context) -> Result | None:
    """p50/p99 of CreateDataKey at an open-loop 500 req/s (compare with grpc.echo_500rps)."""
    raise NotImplementedError(NOT_WIRED)


@scenario("gateway.soak_rss", "gateway RSS growth over a soak")
def soak_rss(ctx: Context) -> Result | None:
    """Gateway RSS before and after a sustained CreateDataKey load; rate is the load sustained,
    notes carry the RSS growth in KiB and per 10k requests (a leak shows as steady growth)."""
    raise NotImplementedError(NOT_WIRED)
