"""`kmsgw serve`: the gRPC and HTTP listeners (and XKS's own with ``[xks] listen``), the HSM executor
beside them.

Which processes serve which listener is the serving model (gateway/app/serving.py).

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health

from gateway.app import aws_wiring, serving, tls, xks_wiring
from gateway.app.config import Config
from gateway.app.first_start import serve_claim
from gateway.app.listen import bind, split_host_port
from gateway.app.runtime import Runtime
from gateway.core.housekeeping import ReconcileReport
from gateway.core.leases import SWEEP_LEASE, Lease, sweep_lease_ttl
from gateway.grpc_api import server as grpc_server
from gateway.hsm import health as hsm_health
from gateway.pipeline import ErrorEnvelope, Services
from gateway.rest.app import create_app
from gateway.rest.protocol import EnvelopeFor, Headers, envelope_of, http_protocol, raise_open_file_limit, rest_envelope
from gateway.store.factory import StoreUnavailable
from gateway.xks import ENVELOPE as XKS_ENVELOPE

__all__ = ["bind", "run", "serve", "split_host_port"]  # bind and split_host_port: for the workers and tests
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


@dataclass
class GrpcListener:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int


@dataclass
class HttpListener:
    """A uvicorn server on one listening address: the HTTP listener, or XKS's own (``[xks] listen``)."""

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
    """The HTTP listener: the REST app, and in front of it the XKS endpoint (unless it has a listener
    of its own) and the AWS KMS API when they are on."""
    app = aws_wiring.http_app(cfg, services, xks_wiring.http_app(cfg, services, create_app(services)))
    rest = rest_envelope(services.dialect)

    def envelope_for(path: str, headers: Headers) -> ErrorEnvelope:  # the shape of the app the head is for
        return envelope_of(app, path, headers) or rest

    return await _start_uvicorn(cfg, cfg.rest_listen, app, envelope_for, tls_material, reuse_port)


async def start_xks(services: Services, cfg: Config, tls_material: Any, reuse_port: bool) -> HttpListener:
    """XKS's own listener (``[xks] listen``): the XKS endpoint answers every path, in its own shape."""
    app = xks_wiring.endpoint(cfg, services)
    return await _start_uvicorn(cfg, cfg.xks.listen, app, lambda _p, _h: XKS_ENVELOPE, tls_material, reuse_port)


async def _start_uvicorn(
    cfg: Config, listen: str, app: Any, envelope_for: EnvelopeFor, tls_material: Any, reuse_port: bool
) -> HttpListener:
    sock = bind(listen, reuse_port=reuse_port)
    http = _Uvicorn(
        uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            http=http_protocol(envelope_for, cfg.http.max_connections),  # httptools, with deadlines and caps
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
        task.result()  # raises why the listener could not start
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
    transports: tuple[str, ...] | None = None,  # a worker of the split model serves one; None: all configured
) -> None:
    """Serve until SIGTERM/SIGINT, or until ``stop`` is set when the caller owns signals.

    Every listener this process serves (gRPC, HTTP, XKS's own), the sweeps and the health watch
    run on the caller's loop. ``on_ready`` gets the gRPC and HTTP ports served (0 for one this
    process does not serve); the "serving" log line names XKS's own port too."""
    cfg = rt.config
    serving.check(cfg)
    transports = transports or serving.listeners(cfg)
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
    http_l = xks_l = None
    try:
        if serving.HTTP in transports:
            http_l = await start_http(services, cfg, tls_material, reuse_port)
        if serving.XKS in transports:
            xks_l = await start_xks(services, cfg, tls_material, reuse_port)
    except BaseException:
        if grpc_l is not None:
            await grpc_l.server.stop(None)
        if http_l is not None:
            await http_l.drain()
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
            **({"xks_port": xks_l.port} if xks_l else {}),
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
    draining: list[Any] = [listener.drain() for listener in (http_l, xks_l) if listener is not None]
    if grpc_l is not None:
        draining.append(grpc_l.server.stop(cfg.drain_seconds))
    await asyncio.gather(*draining, return_exceptions=True)
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
