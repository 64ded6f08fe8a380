"""Readiness follows the token: a probe every second flips gRPC health when the HSM comes and goes.

Why a probe and not only request outcomes: with no traffic a fault would go unnoticed (and a
token that came back would stay "down" until a request tried it). The probe is one cheap job
(C_GenerateRandom plus a search for the canary object); it also heals the session on the way.
``/healthz`` reads ``HsmExecutor.healthy`` directly (gateway/rest/app.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.hsm.executor import HsmExecutor

log = logging.getLogger(__name__)
PROBE_INTERVAL_S = 1.0


async def watch(
    executor: HsmExecutor, on_change: Callable[[bool], Awaitable[None]], interval: float = PROBE_INTERVAL_S
) -> None:
    """Probe forever; call ``on_change(available)`` whenever availability flips."""
    last = True
    while True:
        await asyncio.sleep(interval)
        try:
            ok = await executor.probe()
        except Exception:  # never let the watcher die: it is what brings readiness back
            log.exception("hsm probe failed")
            ok = False
        if ok != last:
            last = ok
            await on_change(ok)
