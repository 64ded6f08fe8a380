"""Serving models: how the gRPC and HTTP listeners share a worker's event loops and processes.

Why this is a setting: one asyncio loop serving both listeners lets a busy HTTP listener starve
gRPC (grpc.aio's completions wait for loop turns that uvicorn's callbacks keep taking), so the
gateway offers the models measured against each other in benchmarks/ANALYSIS.md ("Serving
model") and docs/architecture.md names the default and why:

* ``shared``  one event loop per process serves both listeners (the model before this module);
* ``threads`` each listener on its own event loop and thread inside the process: gRPC on the
  caller's loop, HTTP on a :class:`LoopThread`. The HSM executor hands each job's result back to
  the loop that submitted it, so the process still has one PKCS#11 initialization and one thread
  calling the token;
* ``split``   each worker process serves one transport: ``--workers N`` starts N gRPC workers and
  N HTTP workers (ports shared per transport with SO_REUSEPORT), and the kernel's scheduler, not
  one loop, shares the CPU between transports. A single process (``--workers 1``, the in-process
  gateway of the tests) cannot split and serves as ``shared``.

``[serve] loop = "uvloop"`` runs every loop of the process on uvloop (if installed), and
``switch_interval_ms`` sets the interpreter's GIL switch interval (threads hand the GIL over sooner).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from gateway.app.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")

SHARED, THREADS, SPLIT = "shared", "threads", "split"
MODELS = (SHARED, THREADS, SPLIT)
LOOPS = ("asyncio", "uvloop")
GRPC, HTTP = "grpc", "http"
BOTH = (GRPC, HTTP)
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class ServeConfigError(ValueError):
    """The [serve] section names a model or loop this gateway cannot run; the message says what to fix."""


def check(cfg: Config) -> None:
    """Refuse a bad [serve] section at start-up, before the token or any worker opens."""
    if cfg.serve.model not in MODELS:
        raise ServeConfigError(f"[serve] model must be one of {', '.join(MODELS)}, not {cfg.serve.model!r}")
    if cfg.serve.loop not in LOOPS:
        raise ServeConfigError(f"[serve] loop must be one of {', '.join(LOOPS)}, not {cfg.serve.loop!r}")
    if cfg.serve.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise ServeConfigError('[serve] loop = "uvloop" needs the uvloop package (pip install uvloop)') from None
    if not 0 <= cfg.serve.switch_interval_ms <= 100:
        raise ServeConfigError("[serve] switch_interval_ms must be between 0 (the interpreter's) and 100")


def in_process_model(cfg: Config) -> str:
    """The model one process applies to the listeners it serves. ``split`` is a fleet-level model:
    a lone process (``--workers 1``, the in-process gateway) serves both listeners on one loop."""
    return SHARED if cfg.serve.model == SPLIT else cfg.serve.model


def worker_plan(cfg: Config, workers: int) -> list[tuple[str, ...]]:
    """The transports of each worker process of ``serve --workers N``, by worker index."""
    if cfg.serve.model == SPLIT:
        grpc_only: tuple[str, ...] = (GRPC,)
        return [grpc_only] * workers + [(HTTP,)] * workers
    return [BOTH] * workers


def loop_factory(cfg: Config) -> LoopFactory:
    if cfg.serve.loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def tune_interpreter(cfg: Config) -> None:
    """The GIL switch interval, process-wide: a thread waiting for the GIL waits up to one interval
    (5 ms by default) while another thread computes, which a loop per thread pays in latency."""
    if cfg.serve.switch_interval_ms:
        sys.setswitchinterval(cfg.serve.switch_interval_ms / 1000)


def run_main(cfg: Config, main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the configured loop (the process's main loop)."""
    tune_interpreter(cfg)
    with asyncio.Runner(loop_factory=loop_factory(cfg)) as runner:
        return runner.run(main)


class LoopThread:
    """An event loop running on a thread of its own, for a listener that must not share a loop.

    Coroutines are handed to it with :meth:`run`, awaited from another loop; :meth:`close` stops
    the loop once what ran on it has finished (the listener drained)."""

    def __init__(self, name: str, factory: LoopFactory) -> None:
        self.loop = factory()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on this thread's loop; cancelling the caller cancels it there too."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("a listener thread did not stop", extra={"thread": self._thread.name})
