"""The transport ceiling: a gRPC unary echo that does no work, served by grpc.aio.

Whatever the gateway does per call, its unary rate on this machine cannot beat this row. The
service is a generic handler (bytes in, bytes out), so no proto is compiled. The load comes from
the same engine loader as the gateway rows (``raw_unary``), in its own process, sharing the cores
with the server as it does with the gateway. The server itself lives in :mod:`benchmarks.echo_server`.
"""

from __future__ import annotations

import time

from benchmarks.engine import GrpcLoad
from benchmarks.harness import LOOPBACK, Context, ManagedProcess, Result, scenario, wait_for_file
from gateway.bench.gw.ops import RAW_UNARY, Fixture

ECHO = Fixture(key_id="", raw_method="/bench.Echo/Echo")
PAYLOAD = 64  # bytes: about the size of a small CreateDataKey request
CHANNELS = 8  # connections, as the gateway rows use (a multi-process server spreads load by connection)


def start_echo_server(ctx: Context) -> tuple[ManagedProcess, str]:
    """Start the echo server on an ephemeral loopback port; returns (process, "host:port")."""
    port_file = ctx.workdir / f"echo-port-{time.monotonic_ns()}"
    proc = ctx.spawn("grpc-echo", [ctx.python, "-m", "benchmarks.echo_server", "--port-file", str(port_file)])
    port = wait_for_file(port_file, proc)
    return proc, f"{LOOPBACK}:{port}"


@scenario("grpc.echo", "gRPC unary echo, 64 in flight (transport ceiling)")
def grpc_echo(ctx: Context) -> Result:
    """Peak unary requests/s of grpc.aio with no work behind it: the ceiling for unary RPCs."""
    _, target = start_echo_server(ctx)
    return GrpcLoad.open(ctx, target).row(RAW_UNARY, ECHO, payload=PAYLOAD, concurrency=64, connections=CHANNELS)


@scenario("grpc.echo_c1", "gRPC unary echo, 1 in flight")
def grpc_echo_c1(ctx: Context) -> Result:
    """One call at a time: the round-trip floor a sequential client sees."""
    _, target = start_echo_server(ctx)
    return GrpcLoad.open(ctx, target).row(RAW_UNARY, ECHO, payload=PAYLOAD, concurrency=1, connections=1)


@scenario("grpc.echo_500rps", "gRPC unary echo, fixed 500 req/s")
def grpc_echo_500rps(ctx: Context) -> Result:
    """Latency at a fixed, moderate offered load: the reference for the gateway's p99 at 500 req/s."""
    _, target = start_echo_server(ctx)
    return GrpcLoad.open(ctx, target).row(RAW_UNARY, ECHO, payload=PAYLOAD, rate=500.0, connections=CHANNELS)
