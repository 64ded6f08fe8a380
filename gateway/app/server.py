"""`kmsgw serve`: the gRPC and HTTP listeners, the HSM executor beside them.

How the listeners share loops and processes is the serving model (gateway/app/serving.py).

SIGTERM/SIGINT: health turns NOT_SERVING, listeners stop accepting, in-flight calls get
``drain_seconds`` to finish, then the executor stops and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health

from gateway.app import aws_wiring, serving, tls, xks_wiring
from gateway.app.config import Config
from gateway.app.first_start import serve_claim
from gateway.app.runtime import Runtime
from gateway.core.housekeeping import ReconcileReport
from gateway.core.leases import SWEEP_LEASE, Lease, sweep_lease_ttl
from gateway.grpc_api import server as grpc_server
from gateway.hsm import health as hsm_health
from gateway.pipeline import Services
from gateway.rest.app import create_app
from gateway.rest.protocol import http_protocol, raise_open_file_limit
from gateway.store.factory import StoreUnavailable

log = logging.getLogger(__name__)


TLS_HANDSHAKE_TIMEOUT_S = 10.0  # as the gRPC listener's handshake timeout


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling (this process drains both servers together), and
    with a TLS handshake deadline: asyncio hands a TLS connection to the protocol (where the
    connection cap and the head deadline live) only after its handshake, and uvicorn leaves the
    handshake at asyncio's 60 s, so silent clients could hold descriptors outside the cap."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.config.is_ssl:
            return await super().startup(sockets)
        loop = asyncio.get_running_loop()
        create_server = loop.create_server
        loop.create_server = functools.partial(create_server, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)  # type: ignore[method-assign]
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server  # the loop's own method again


def split_host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def bind(listen: str, *, reuse_port: bool = False) -> socket.socket:
    host, port = split_host_port(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections whose socket says TCP; without
    # it Nagle holds each response's body behind its headers for a delayed ACK (~40 ms per request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@dataclass
class GrpcListener:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int


@dataclass
class HttpListener:
    server: _Uvicorn
    task: asyncio.Task[None]
    port: int

    async def drain(self) -> None:
        """Stop accepting, give in-flight requests uvicorn's graceful shutdown (``drain_seconds``)."""
        self.server.should_exit = True
        await asyncio.gather(self.task, return_exceptions=True)


async def start_grpc(services: Services, cfg: Config, tls_material: Any, reuse_port: bool) -> GrpcListener:
    credentials = tls.grpc_credentials(tls_material) if tls_material else None
    server, health_servicer, port = grpc_server.build(
        services, cfg.grpc_listen, reuse_port=reuse_port, credentials=credentials
    )
    await server.start()
    return GrpcListener(server, health_servicer, port)


async def start_http(services: Services, cfg: Config, tls_material: Any, reuse_port: bool) -> HttpListener:
    """The HTTP listener on the running loop (the REST app, and the XKS endpoint when [xks] is on)."""
    sock = bind(cfg.rest_listen, reuse_port=reuse_port)
    http = _Uvicorn(
        uvicorn.Config(
            aws_wiring.http_app(
                cfg, services, xks_wiring.http_app(cfg, services, create_app(services))
            ),  # + [xks], [aws]
            lifespan="off",
            log_config=None,
            http=http_protocol(services.dialect, cfg.http.max_connections),  # httptools, with deadlines and caps
            access_log=False,
            timeout_graceful_shutdown=int(cfg.drain_seconds),
            ssl_context_factory=(lambda _c, _d: tls.rest_context(tls_material)) if tls_material else None,
        )
    )
    task = asyncio.create_task(http.serve(sockets=[sock]))
    # The socket only listens once uvicorn has started: "serving" must not be announced before.
    while not http.started and not task.done():
        await asyncio.sleep(0.005)
    if task.done():
        task.result()  # raises why the HTTP listener could not start
    return HttpListener(http, task, sock.getsockname()[1])


async def run(
    rt: Runtime,
    *,
    reuse_port: bool = False,
    on_ready: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
    sweep: bool = True,
    announce: bool = True,
    reconcile: bool = True,  # False in workers: their parent reconciled once before spawning them
    transports: tuple[str, ...] = serving.BOTH,  # a worker of the split model serves one
) -> None:
    """Serve until SIGTERM/SIGINT, or until ``stop`` is set when the caller owns signals.

    gRPC, the sweeps and the health watch run on the caller's loop; HTTP runs there too (model
    ``shared``) or on a loop and thread of its own (``threads``, and a lone process of ``split``).
    ``on_ready`` gets the ports served (0 for a transport this process does not serve)."""
    cfg = rt.config
    serving.check(cfg)
    await rt.auth.setup()
    report = await reconcile_at_start(rt) if reconcile else None
    if report is not None:
        log.info(
            "reconciled",
            extra={
                "finished": len(report.finished),
                "removed": len(report.removed_rows),
                "orphans": len(report.destroyed_orphans),
            },
        )

    tls_material = tls.load(cfg.tls)  # each process builds its own contexts (TlsConfigError: refuse to start)
    services = rt.services  # what the transports are handed: they never see the runtime
    raise_open_file_limit()  # a shell's soft limit (1024) is low for a server; the connection caps derive from it
    grpc_l = await start_grpc(services, cfg, tls_material, reuse_port) if serving.GRPC in transports else None
    http_l: HttpListener | None = None
    http_thread: serving.LoopThread | None = None
    if serving.HTTP in transports:
        if grpc_l is not None and serving.in_process_model(cfg) == serving.THREADS:
            http_thread = serving.LoopThread("kmsgw-http", serving.loop_factory(cfg))
        try:
            starting = start_http(services, cfg, tls_material, reuse_port)
            http_l = await (http_thread.run(starting) if http_thread else starting)
        except BaseException:
            if grpc_l is not None:
                await grpc_l.server.stop(None)
            if http_thread is not None:
                http_thread.close()
            raise
    if grpc_l is not None:
        await grpc_server.mark_serving(grpc_l.health, True)
    grpc_port = grpc_l.port if grpc_l else 0
    http_port = http_l.port if http_l else 0
    log.info(
        "serving" if announce else "worker serving",
        extra={
            "grpc_port": grpc_port,
            "rest_port": http_port,
            "data_dir": str(cfg.data_dir),
            "pid": os.getpid(),
            "tls": tls_material.client_auth if tls_material else "off",  # "off" or the client_auth mode
            "transports": list(transports),
            "serving_model": cfg.serve.model,
        },
    )

    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    sweeper = asyncio.create_task(_sweep(rt, cfg.sweep_interval_s)) if sweep else None
    hsm_watch = asyncio.create_task(hsm_health.watch(rt.executor, functools.partial(_on_hsm_change, grpc_l)))
    if on_ready is not None:
        on_ready(grpc_port, http_port)
    await stop.wait()

    log.info("draining", extra={"seconds": cfg.drain_seconds})
    hsm_watch.cancel()  # before NOT_SERVING: a late probe must not report SERVING again
    if grpc_l is not None:
        await grpc_server.mark_serving(grpc_l.health, False)
    if sweeper is not None:
        sweeper.cancel()
    draining: list[Awaitable[Any]] = []
    if grpc_l is not None:
        draining.append(grpc_l.server.stop(cfg.drain_seconds))
    if http_l is not None:
        draining.append(http_thread.run(http_l.drain()) if http_thread else http_l.drain())
    await asyncio.gather(*draining, return_exceptions=True)
    if http_thread is not None:
        http_thread.close()
    log.info("stopped")


async def _on_hsm_change(grpc_l: GrpcListener | None, available: bool) -> None:
    """gRPC health follows the token; /healthz reads the executor's state itself (rest/app.py)."""
    if grpc_l is not None:
        await grpc_server.mark_serving(grpc_l.health, available)


async def reconcile_at_start(rt: Runtime) -> ReconcileReport:
    """Start-up reconciliation; every in-flight row counts as a crash's leftover only when no other
    serve shares the data dir's store (bootstrap.serve_claim)."""
    with serve_claim(rt.config.data_dir) as alone:
        if not alone:
            rt.store.shared = True  # another serve may be making a key right now
        return await rt.kms.reconcile()


async def _sweep(rt: Runtime, interval: float) -> None:
    """Destroy keys whose deletion date has passed, rotate keys whose interval has, expire imported
    material, forever — but only while this process holds the sweep lease, so every worker and node
    may run this loop and the work still happens once (gateway/core/leases.py, docs/several-nodes.md).
    The lease is renewed before each pass; a holder that dies is replaced after the lease's ttl."""
    lease = Lease(rt.store, SWEEP_LEASE, sweep_lease_ttl(interval))
    passes = (
        ("deletion", rt.kms.delete_due_keys),
        ("rotation", rt.kms.rotate_due_keys),
        ("import", rt.kms.import_sweep),  # expired imported material and import parameters (byok.py)
        ("reconcile", rt.kms.sweep_reconcile),  # stale in-flight rows, orphans past their grace (housekeeping.py)
    )
    try:
        while True:
            for name, sweep_pass in passes:
                if not lease.renew():
                    break
                try:
                    await sweep_pass()
                except Exception:
                    log.exception(f"{name} sweep failed")
            await asyncio.sleep(interval)
    finally:
        lease.release()  # on drain: the next node need not wait out the ttl


def serve(cfg: Config, workers: int = 1) -> int:
    try:
        tls.load(cfg.tls)  # refuse a bad [tls] section before the token or any worker starts
        xks_wiring.check(cfg)  # and a bad [xks] one
        aws_wiring.check(cfg)  # and [aws]
        serving.check(cfg)  # and a bad [serve] one
    except (tls.TlsConfigError, xks_wiring.XksConfigError, aws_wiring.AwsConfigError, serving.ServeConfigError) as exc:
        log.error("refusing to start: %s", exc)
        return 2
    try:
        if workers > 1:
            from gateway.app.workers import serve_workers

            return serve_workers(cfg, workers)
        rt = Runtime.open(cfg)
    except StoreUnavailable as exc:  # database down or refusing us: one log line, no traceback
        log.error("refusing to start: %s", exc)
        return 2
    try:
        serving.run_main(cfg, run(rt))
    finally:
        rt.close()
    return 0
