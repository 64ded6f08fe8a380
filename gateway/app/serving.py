"""Serving models: which worker processes serve which listener.

Why this is a setting: one asyncio loop serving both listeners lets a busy HTTP listener starve
gRPC (grpc.aio's completions wait for loop turns that uvicorn's callbacks keep taking), so the
gateway offers the models measured against each other in benchmarks/ANALYSIS.md ("Serving
model") and docs/architecture.md names the default and why:

* ``shared``  one event loop per process serves every listener (the model before this module);
* ``split``   each worker process serves one listener: ``--workers N`` starts N workers per
  listener (ports shared per listener with SO_REUSEPORT), and the kernel's scheduler, not one
  loop, shares the CPU between transports. A single process (``--workers 1``, the in-process
  gateway of the tests) cannot split and serves as ``shared``.

The listeners are gRPC, HTTP (REST, /healthz, /metrics, and XKS unless it has its own) and, with
``[xks] listen``, the XKS endpoint on a port of its own: under ``split`` its workers then wait on
nobody's bulk work, and the kernel wakes a mostly idle process promptly (docs/xks.md, "Latency").

A third model, a loop and thread per listener inside each process, was measured and removed: it
served 10-15 % below ``shared`` alone, its tail beside REST was the worst of the three, and it made
every core object (the per-key rotation lock, an ``asyncio.Lock``) reachable from two loops. So was
uvloop as the loop: it moved neither a solo rate nor a tail beyond noise (benchmarks/ANALYSIS.md).

``switch_interval_ms`` sets the interpreter's GIL switch interval (the loop thread waits up to one
for the GIL while the HSM thread runs Python).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from gateway.app.config import Config

T = TypeVar("T")

SHARED, SPLIT = "shared", "split"
MODELS = (SHARED, SPLIT)
REMOVED_MODELS = {"threads": "it was removed (slower than shared, no fairer; docs/architecture.md)"}
GRPC, HTTP, XKS = "grpc", "http", "xks"  # the listeners


class ServeConfigError(ValueError):
    """The [serve] section names a model or loop this gateway cannot run; the message says what to fix."""


def check(cfg: Config) -> None:
    """Refuse a bad [serve] section at start-up, before the token or any worker opens."""
    if cfg.serve.model in REMOVED_MODELS:
        raise ServeConfigError(
            f"[serve] model {cfg.serve.model!r}: {REMOVED_MODELS[cfg.serve.model]}; use one of {', '.join(MODELS)}"
        )
    if cfg.serve.model not in MODELS:
        raise ServeConfigError(f"[serve] model must be one of {', '.join(MODELS)}, not {cfg.serve.model!r}")
    if not 0 <= cfg.serve.switch_interval_ms <= 100:
        raise ServeConfigError("[serve] switch_interval_ms must be between 0 (the interpreter's) and 100")


def listeners(cfg: Config) -> tuple[str, ...]:
    """Every listener the configuration asks for; XKS only when it has a port of its own
    (otherwise the HTTP listener carries it)."""
    own_xks = cfg.xks.enabled and bool(cfg.xks.listen)
    return (GRPC, HTTP, XKS) if own_xks else (GRPC, HTTP)


def worker_plan(cfg: Config, workers: int) -> list[tuple[str, ...]]:
    """The listeners of each worker process of ``serve --workers N``, by worker index: under
    ``split`` N workers per listener (gRPC's first, then HTTP's, then XKS's), else all in each."""
    if cfg.serve.model == SPLIT:
        return [(name,) for name in listeners(cfg) for _ in range(workers)]
    return [listeners(cfg)] * workers


def tune_interpreter(cfg: Config) -> None:
    """The GIL switch interval, process-wide: a thread waiting for the GIL (the loop's, while the HSM
    thread runs Python) waits up to one interval (5 ms by default)."""
    if cfg.serve.switch_interval_ms:
        sys.setswitchinterval(cfg.serve.switch_interval_ms / 1000)


def run_main(cfg: Config, main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` with the interpreter tuned as configured (the process's main loop)."""
    tune_interpreter(cfg)
    return asyncio.run(main)
