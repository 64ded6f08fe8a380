"""`kmsgw serve`: both listeners on one event loop, the HSM executor beside them.

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

import uvicorn

from gateway.app import aws_wiring, tls, xks_wiring
from gateway.app.config import Config
from gateway.app.first_start import serve_claim
from gateway.app.runtime import Runtime
from gateway.core.housekeeping import ReconcileReport
from gateway.core.leases import SWEEP_LEASE, Lease, sweep_lease_ttl
from gateway.grpc_api import server as grpc_server
from gateway.hsm import health as hsm_health
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


async def run(
    rt: Runtime,
    *,
    reuse_port: bool = False,
    on_ready: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
    sweep: bool = True,
    announce: bool = True,
    reconcile: bool = True,  # False in workers: their parent reconciled once before spawning them
) -> None:
    """Serve until SIGTERM/SIGINT, or until ``stop`` is set when the caller owns signals."""
    cfg = rt.config
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
    grpc_credentials = tls.grpc_credentials(tls_material) if tls_material else None
    grpc, health, grpc_port = grpc_server.build(
        services, cfg.grpc_listen, reuse_port=reuse_port, credentials=grpc_credentials
    )
    await grpc.start()
    http_sock = bind(cfg.rest_listen, reuse_port=reuse_port)
    raise_open_file_limit()  # a shell's soft limit (1024) is low for a server; the connection cap derives from it
    http = _Uvicorn(
        uvicorn.Config(
            aws_wiring.http_app(cfg, services, xks_wiring.http_app(cfg, services, create_app(services))),
            lifespan="off",
            log_config=None,
            http=http_protocol(services.dialect, cfg.http.max_connections),  # httptools, with deadlines and caps
            access_log=False,
            timeout_graceful_shutdown=int(cfg.drain_seconds),
            ssl_context_factory=(lambda _c, _d: tls.rest_context(tls_material)) if tls_material else None,
        )
    )
    http_task = asyncio.create_task(http.serve(sockets=[http_sock]))
    # The socket only listens once uvicorn has started: "serving" must not be announced before.
    while not http.started and not http_task.done():
        await asyncio.sleep(0.005)
    if http_task.done():
        http_task.result()  # raises why the HTTP listener could not start
    await grpc_server.mark_serving(health, True)
    http_port = http_sock.getsockname()[1]
    log.info(
        "serving" if announce else "worker serving",
        extra={
            "grpc_port": grpc_port,
            "rest_port": http_port,
            "data_dir": str(cfg.data_dir),
            "pid": os.getpid(),
            "tls": tls_material.client_auth if tls_material else "off",  # "off" or the client_auth mode
        },
    )

    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    sweeper = asyncio.create_task(_sweep(rt, cfg.sweep_interval_s)) if sweep else None
    hsm_watch = asyncio.create_task(hsm_health.watch(rt.executor, lambda ok: grpc_server.mark_serving(health, ok)))
    if on_ready is not None:
        on_ready(grpc_port, http_port)
    await stop.wait()

    log.info("draining", extra={"seconds": cfg.drain_seconds})
    hsm_watch.cancel()  # before NOT_SERVING: a late probe must not report SERVING again
    await grpc_server.mark_serving(health, False)
    if sweeper is not None:
        sweeper.cancel()
    http.should_exit = True
    await asyncio.gather(grpc.stop(cfg.drain_seconds), http_task, return_exceptions=True)
    log.info("stopped")


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
    except (tls.TlsConfigError, xks_wiring.XksConfigError, aws_wiring.AwsConfigError) as exc:
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
        asyncio.run(run(rt))
    finally:
        rt.close()
    return 0
