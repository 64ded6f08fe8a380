"""`kmsgw serve --workers N`: N processes sharing the listening ports, the token and the store.

Why processes: PKCS#11 calls may not overlap inside one process (python-pkcs11 initializes the
library without locking; docs/architecture.md, "Concurrency"), and one Python process tops out
below the HSM's rate (a bare gRPC unary echo peaks near 3,500 requests/s on two cores, the token
near 40,000 AES-GCM operations/s), so parallelism comes from processes,
each initializing the library itself. The parent never touches PKCS#11 or gRPC after the
start-up reconciliation; workers are *spawned* (not forked) so nothing initialized leaks in.

Which listeners a worker serves is the serving model's (gateway/app/serving.py): all of them in
every worker, or, with ``split``, N workers per listener (gRPC, HTTP, and XKS's own with
``[xks] listen``).

Ports: every worker binds the same addresses with SO_REUSEPORT and the kernel spreads
connections. An ephemeral port (``:0``) is resolved once by the parent and handed down.
Every worker runs the background sweep loop; the sweep lease in the store (gateway/core/leases.py)
lets one process at a time do the work, across workers and across nodes, and hands it to another
worker when the holder dies.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import time
from dataclasses import replace
from pathlib import Path

from gateway.app import serving
from gateway.app.config import Config
from gateway.app.listen import bind, split_host_port
from gateway.app.server import reconcile_at_start
from gateway.telemetry import logs

log = logging.getLogger(__name__)
RESTART_BACKOFF_S = 1.0
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


def _worker_main(cfg: Config, index: int, ready: mp.Queue, parent: int, transports: tuple[str, ...]) -> None:
    from gateway.app.runtime import Runtime
    from gateway.app.server import run

    _die_with_parent(parent)
    logs.setup(cfg.log_level)
    logging.getLogger().handlers[0].addFilter(_WorkerTag(index))
    rt = Runtime.open(cfg)
    try:
        serving.run_main(
            cfg,
            run(
                rt,
                reuse_port=True,
                reconcile=False,  # done once by the parent
                on_ready=lambda g, h: ready.put((index, os.getpid(), g, h)),
                announce=False,
                transports=transports,
            ),
        )
    finally:
        rt.close()


def _die_with_parent(parent: int) -> None:
    """SIGTERM this worker when the parent dies, even by SIGKILL: orphaned workers would go on
    serving the shared ports with nobody to drain or replace them (Linux ``PR_SET_PDEATHSIG``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's own SIGTERM handling still applies
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


class _WorkerTag(logging.Filter):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.index
        return True


def _resolve_port(listen: str, holders: list[socket.socket]) -> str:
    """Turn HOST:0 into HOST:<free port>, holding the port (bound, not listening) meanwhile."""
    host, port = split_host_port(listen)
    if port != 0:
        return listen
    sock = bind(listen, reuse_port=True)
    holders.append(sock)
    chosen = sock.getsockname()[1]
    return f"[{host}]:{chosen}" if ":" in host else f"{host}:{chosen}"


def serve_workers(cfg: Config, workers: int) -> int:
    from gateway.app.runtime import Runtime

    # Start-up work that must happen once: token bootstrap, migrations, reconciliation.
    rt = Runtime.open(cfg)
    try:
        serving.run_main(cfg, _prepare(rt))
    finally:
        rt.close()

    metrics_dir = _metrics_dir(cfg.data_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())

    holders: list[socket.socket] = []
    cfg = replace(
        cfg, grpc_listen=_resolve_port(cfg.grpc_listen, holders), rest_listen=_resolve_port(cfg.rest_listen, holders)
    )
    if serving.XKS in serving.listeners(cfg):
        cfg = replace(cfg, xks=replace(cfg.xks, listen=_resolve_port(cfg.xks.listen, holders)))
    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()
    procs: dict[int, mp.process.BaseProcess] = {}
    plan = serving.worker_plan(cfg, workers)  # the transports of each worker, by index

    def start(index: int) -> None:
        args = (cfg, index, ready, os.getpid(), plan[index])
        p = ctx.Process(target=_worker_main, args=args, name=f"kmsgw-worker-{index}", daemon=False)
        p.start()
        procs[index] = p

    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for i in range(len(plan)):
        start(i)
    started: dict[int, tuple[int, int, int]] = {}
    deadline = time.monotonic() + 120
    while len(started) < len(plan) and not stopping and time.monotonic() < deadline:
        try:
            index, pid, grpc_port, http_port = ready.get(timeout=0.5)
            started[index] = (pid, grpc_port, http_port)
        except Exception:  # queue.Empty; a worker that died at start shows below
            if any(not p.is_alive() for p in procs.values()):
                log.error("a worker failed to start")
                stopping = True
    for sock in holders:
        sock.close()
    if started and not stopping:
        grpc_port = max(g for _, g, _ in started.values())  # 0 from a worker that does not serve gRPC
        http_port = max(h for _, _, h in started.values())
        own_xks = {"xks_port": split_host_port(cfg.xks.listen)[1]} if serving.XKS in serving.listeners(cfg) else {}
        log.info(
            "serving",
            extra={
                "grpc_port": grpc_port,
                "rest_port": http_port,
                **own_xks,
                "workers": len(plan),
                "serving_model": cfg.serve.model,
                "data_dir": str(cfg.data_dir),
            },
        )

    from prometheus_client import multiprocess

    while not stopping:
        time.sleep(0.2)
        for index, p in list(procs.items()):
            if not p.is_alive() and not stopping:
                log.warning("worker died; replacing it", extra={"worker": index, "exitcode": p.exitcode})
                if p.pid is not None:
                    multiprocess.mark_process_dead(p.pid)
                time.sleep(RESTART_BACKOFF_S)
                start(index)

    log.info("draining", extra={"workers": len(procs)})
    for p in procs.values():
        if p.is_alive() and p.pid is not None:
            os.kill(p.pid, signal.SIGTERM)
    for p in procs.values():
        p.join(cfg.drain_seconds + 10)
        if p.is_alive():
            p.kill()
    log.info("stopped")
    return 0


def _metrics_dir(data_dir: Path) -> Path:
    """A fresh prometheus multiprocess dir for this parent: ``metrics/<pid>`` under the data dir.

    Per parent, because two `kmsgw serve` on one data dir must not wipe each other's files; the
    dirs of parents that are gone are removed (a container's pid 1 reuses its own)."""
    root = data_dir / "metrics"
    root.mkdir(mode=0o700, exist_ok=True)
    for entry in root.iterdir():
        if entry.is_file() or not entry.name.isdigit() or not _pid_alive(int(entry.name)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)  # files of the former shared layout
    mine = root / str(os.getpid())
    shutil.rmtree(mine, ignore_errors=True)
    mine.mkdir(mode=0o700)
    return mine


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own stale dir (a restarted container): recreated fresh by the caller
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


async def _prepare(rt: object) -> None:
    from gateway.app.runtime import Runtime

    assert isinstance(rt, Runtime)
    await rt.auth.setup()
    await reconcile_at_start(rt)
