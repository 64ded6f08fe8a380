"""HSM faults on demand, for dev and test gateways only: the token path raises what a failing HSM does.

Why not a PKCS#11 shim: a shim is C that users would have to compile. Why not a fake: the gateway's
own recovery must run. So the switch sits in front of each executor job and raises the PKCS#11
device error a dead token raises (``CKR_DEVICE_ERROR``); the executor then does exactly what it
does in production — heal the session, retry once, go *down* (KMS.0102, readiness off) and back
off — and recovers by itself through its health probe once the switch is off. Latency is a sleep
on the executor thread before each job (jobs queue behind it, as behind a slow HSM); closing
sessions closes the real session under the executor, whose next job heals it transparently.

Only the dev runtime builds :class:`FaultableExecutor` (``Runtime.open(executor_type=...)``);
`kmsgw serve` runs the plain :class:`~gateway.hsm.executor.HsmExecutor`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pkcs11.exceptions import DeviceError

from gateway.hsm.executor import HsmExecutor
from gateway.hsm.token import TokenSession

T = TypeVar("T")


class FaultSwitch:
    """What the token should do now; set from the event loop, read on the executor thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hsm_down_until: float | None = None  # monotonic end of the outage; inf: until cleared
        self.latency_s = 0.0
        self.failed_jobs = 0  # jobs answered with a device error (for reports)

    def hsm_unavailable(self, seconds: float | None = None) -> None:
        with self._lock:
            self.hsm_down_until = float("inf") if seconds is None else time.monotonic() + seconds

    def hsm_available(self) -> None:
        with self._lock:
            self.hsm_down_until = None

    @property
    def hsm_down(self) -> bool:
        until = self.hsm_down_until
        return until is not None and time.monotonic() < until

    def set_latency(self, ms: float) -> None:
        if ms < 0:
            raise ValueError("latency must be >= 0 ms")
        self.latency_s = ms / 1000

    def reset(self) -> None:
        self.hsm_available()
        self.latency_s = 0.0

    def state(self) -> dict[str, Any]:
        until = self.hsm_down_until
        left = None if until is None or until == float("inf") else max(0.0, until - time.monotonic())
        return {
            "hsm_unavailable": self.hsm_down,
            "hsm_unavailable_seconds_left": left,
            "latency_ms": self.latency_s * 1000,
            "failed_jobs": self.failed_jobs,
        }

    def guard(self, job: Callable[[TokenSession], T]) -> Callable[[TokenSession], T]:
        """``job`` behind the switch: a delay, then the device error or the job itself."""

        def guarded(token: TokenSession) -> T:
            if self.latency_s:
                time.sleep(self.latency_s)
            if self.hsm_down:
                self.failed_jobs += 1
                raise DeviceError()
            return job(token)

        return guarded


class FaultableExecutor(HsmExecutor):
    """The HSM executor with a :class:`FaultSwitch` in front of every job (dev and test runtimes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = FaultSwitch()

    async def run(self, job: Callable[[TokenSession], T], op: str = "hsm", **kwargs: Any) -> T:
        return await super().run(self.faults.guard(job), op, **kwargs)

    def run_sync(self, job: Callable[[TokenSession], T], op: str = "hsm") -> T:
        return super().run_sync(self.faults.guard(job), op)

    async def close_sessions(self) -> None:
        """Close the token session under the executor, as a token that drops its sessions does;
        the next job meets the closed handle and the executor heals it."""
        await super().run(_close_session, "dev_close_sessions")


def _close_session(token: TokenSession) -> None:
    token.session.close()
