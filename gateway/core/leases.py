"""Leases: work that must happen once across every worker and node sharing one store.

A lease is a row (name, holder, expires_at) in the store. Why not a lock: a lock held by a
process killed -9, or by a node that lost its network, never frees; a lease simply expires
``ttl`` after its holder stopped renewing it, and the next process that asks takes it over.
Times are the asking process's wall clock in ms, so node clocks must agree to well within a ttl.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from gateway.core.ports.store import LeaseStore

log = logging.getLogger(__name__)

SWEEP_LEASE = "sweep"  # deletions, rotations, import expiry (gateway/app/server.py _sweep)
SETUP_LEASE = "setup"  # the gateway's own token keys, made once on a fresh token (bootstrap.ensure_own_keys)
_PROCESS_TAG = secrets.token_hex(4)  # tells apart two processes that reuse a pid (containers: pid 1)


def process_holder() -> str:
    """This process's name as a lease holder: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TAG}"


def sweep_lease_ttl(interval_s: float) -> float:
    """A few sweep intervals, so one slow pass or a missed renewal does not hand the lease over."""
    return max(3 * interval_s, 5.0)


class Lease:
    """One named lease as seen by this process: renew before each piece of work, release at the end."""

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        ttl_s: float,
        holder: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        announce: bool = True,
    ) -> None:
        self.store = store
        self.name = name
        self.ttl_ms = int(ttl_s * 1000)
        self.holder = holder or process_holder()
        self._now = wall_clock
        self.held = False
        self._level = logging.INFO if announce else logging.DEBUG  # hand-overs of long leases are news

    def renew(self) -> bool:
        """Acquire or renew; False while another holder's lease runs (or the store failed)."""
        try:
            held = self.store.try_lease(self.name, self.holder, int(self._now() * 1000), self.ttl_ms)
        except Exception:
            log.exception("lease renewal failed", extra={"lease": self.name})
            held = False
        if held != self.held:
            what = "lease acquired" if held else "lease lost"
            log.log(self._level, what, extra={"lease": self.name, "holder": self.holder})
        self.held = held
        return held

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self.store.release_lease(self.name, self.holder)
            log.log(self._level, "lease released", extra={"lease": self.name, "holder": self.holder})
        except Exception:
            log.exception("lease release failed", extra={"lease": self.name})


@asynccontextmanager
async def exclusive(
    store: LeaseStore, name: str, *, ttl_s: float = 30.0, wait_s: float = 120.0, poll_s: float = 0.05
) -> AsyncIterator[Lease]:
    """Run a short block in one process at a time across all nodes; wait for the lease (TimeoutError after
    ``wait_s``). A holder that died frees the lease after ``ttl_s``; the block must finish well within it."""
    lease = Lease(store, name, ttl_s, announce=False)
    deadline = time.monotonic() + wait_s
    while not lease.renew():
        _check_deadline(name, deadline)
        await asyncio.sleep(poll_s)
    try:
        yield lease
    finally:
        lease.release()


@contextmanager
def exclusive_sync(
    store: LeaseStore, name: str, *, ttl_s: float = 30.0, wait_s: float = 120.0, poll_s: float = 0.05
) -> Iterator[Lease]:
    """:func:`exclusive` for start-up code that runs before any event loop (gateway/hsm/softhsm.py)."""
    lease = Lease(store, name, ttl_s, announce=False)
    deadline = time.monotonic() + wait_s
    while not lease.renew():
        _check_deadline(name, deadline)
        time.sleep(poll_s)
    try:
        yield lease
    finally:
        lease.release()


def _check_deadline(name: str, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"lease {name!r} is held by another process")
