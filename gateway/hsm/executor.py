"""The per-process HSM executor: one thread owns the token session and drains a queue.

Why one thread: PKCS#11 calls must never overlap in a process (docs/architecture.md,
"Concurrency"), and one worker that drains a queue beats many threads taking turns on a lock
(measured: 8 threads sharing one lock ran at well under half of one thread's rate). Whatever is
waiting when the worker wakes is run back to back as one batch, and the results go back to
the event loop in one hand-off per batch, so many concurrent requests cost one wake-up.

Faults: a session or token fault heals the session and retries the job once. When the token
still does not answer, the executor is *down*: jobs fail at once with KMS.0102 (no queue of
requests each waiting on a dead token) until a back-off passes and the next job, or a health
probe, tries to heal again. ``healthy`` is what readiness reports (gateway/hsm/health.py).

Start deadlines: a job submitted with ``start_within`` that is still queued when that much time
has passed is dropped unrun with :class:`HsmBusy` (a caller with a deadline of its own, such as
AWS KMS's 250 ms for an XKS call, is better answered "busy" than served after it gave up).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pkcs11

from gateway.core.errors import Err, KmsError
from gateway.core.ports.hsm import HsmBusy, MaterialRejected
from gateway.core.ports.metrics import HsmMetrics
from gateway.hsm.faults import SESSION_FAULTS
from gateway.hsm.token import TokenSession

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[TokenSession], Any]
_STOP = object()
# Exceptions a job raises as its answer (the caller's to handle), never a token fault.
ANSWERS: tuple[type[Exception], ...] = (KmsError, MaterialRejected)
BACKOFF_MIN_S = 0.2  # first wait before a down token is tried again
BACKOFF_MAX_S = 2.0


class HsmExecutor:
    def __init__(
        self, token: TokenSession, metrics: HsmMetrics, *, max_batch: int = 256, window_s: float = 0.0
    ) -> None:
        self._token = token
        self._metrics = metrics
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._window_s = window_s
        self._thread = threading.Thread(target=self._run, name="hsm-executor", daemon=True)
        self._started = threading.Event()
        self._open_error: BaseException | None = None
        self.healthy = True  # False from a fault that healing could not repair until a job succeeds
        self._down_until = 0.0  # monotonic time before which jobs fail fast
        self._backoff = BACKOFF_MIN_S
        self._reported_depth = 0  # the queue depth last given to the metrics (_report_depth)

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._open_error is not None:
            raise self._open_error

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)

    # -- submission -------------------------------------------------------------------
    async def run(self, job: Callable[[TokenSession], T], op: str = "hsm", *, start_within: float | None = None) -> T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        start_by = None if start_within is None else time.monotonic() + start_within
        self._queue.put((job, fut, loop, op, start_by))  # no metric here: see _report_depth
        return await fut

    def run_sync(self, job: Callable[[TokenSession], T], op: str = "hsm") -> T:
        """For the CLI and start-up code that has no event loop running."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((job, fut, None, op, None))
        return fut.result()

    async def probe(self) -> bool:
        """True when the token answers and its objects are visible (heals on the way if it can)."""
        if self._is_down():
            return False
        try:
            await self.run(TokenSession.probe, "probe")
        except KmsError:
            return False
        return True

    # -- worker -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._token.open()
            self._token.ensure_canary()
        except BaseException as exc:  # surfaced by start()
            self._open_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            while True:
                batch = [self._queue.get()]
                if self._window_s > 0:
                    deadline = time.monotonic() + self._window_s
                    while len(batch) < self._max_batch and (left := deadline - time.monotonic()) > 0:
                        try:
                            batch.append(self._queue.get(timeout=left))
                        except queue.Empty:
                            break
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is _STOP for item in batch)
                self._execute([item for item in batch if item is not _STOP])
                self._report_depth()
                if stop:
                    return
        finally:
            self._token.close()

    def _report_depth(self) -> None:
        """The queue depth gauge, sampled here after each batch (the jobs that queued while it ran)
        and written only when it changed. Counting each job in and out instead would take the
        metrics lock on the event loop per request, a lock this thread takes too: contended, the
        loop would block and wait for this thread to hand the GIL back."""
        depth = self._queue.qsize()
        if depth != self._reported_depth:
            self._reported_depth = depth
            self._metrics.hsm_queue_depth(depth)

    def _execute(self, batch: list[tuple[Job, Any, asyncio.AbstractEventLoop | None, str, float | None]]) -> None:
        self._metrics.hsm_batch(len(batch))
        done: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, fut, loop, op, start_by in batch:
            if start_by is not None and time.monotonic() > start_by:
                ok, value = False, HsmBusy()  # waited too long: dropped unrun
            else:
                ok, value = self._call(job, op)
            if loop is None:
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)
            else:
                done.setdefault(loop, []).append((fut, ok, value))
        for loop, results in done.items():
            try:
                loop.call_soon_threadsafe(_deliver, results)
            except RuntimeError:  # loop closed while we worked: nobody is waiting any more
                pass

    def _is_down(self) -> bool:
        return not self.healthy and time.monotonic() < self._down_until

    def _went_down(self, op: str, exc: BaseException) -> tuple[bool, Any]:
        if self.healthy:
            log.error("hsm unavailable", extra={"op": op, "error": type(exc).__name__})
            self._backoff = BACKOFF_MIN_S
        else:
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
        self.healthy = False
        self._down_until = time.monotonic() + self._backoff
        self._metrics.hsm_sessions(0)
        return False, KmsError(Err.HSM_IO)

    def _came_back(self) -> None:
        if not self.healthy:
            log.warning("hsm available again")
            self.healthy = True
            self._metrics.hsm_sessions(1)

    def _call(self, job: Job, op: str) -> tuple[bool, Any]:
        if self._is_down():
            return False, KmsError(Err.HSM_IO)  # fail fast; a job after the back-off tries again
        start = time.perf_counter()
        try:
            value = job(self._token)
            self._came_back()
            return True, value
        except ANSWERS as exc:
            return False, exc
        except SESSION_FAULTS as exc:
            # Heal, then retry once: only this item pays for the fault.
            log.warning("hsm fault; healing session", extra={"op": op, "error": type(exc).__name__})
            self._metrics.hsm_heal()
            try:
                self._token.heal()
            except Exception as exc2:  # the token still does not answer
                return self._went_down(op, exc2)
            try:
                value = job(self._token)
                self._came_back()
                return True, value
            except ANSWERS as exc2:
                return False, exc2
            except Exception as exc2:
                if isinstance(exc2, SESSION_FAULTS):
                    return self._went_down(op, exc2)
                log.error("hsm fault persists after heal", extra={"op": op, "error": type(exc2).__name__})
                return False, KmsError(Err.HSM_IO)
        except pkcs11.PKCS11Error as exc:
            log.error("hsm error", extra={"op": op, "error": type(exc).__name__})
            return False, KmsError(Err.HSM_IO)
        except Exception:
            log.exception("hsm job failed", extra={"op": op})
            return False, KmsError(Err.INTERNAL)
        finally:
            self._metrics.hsm_job_seconds(op, time.perf_counter() - start)


def _deliver(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in results:
        if fut.cancelled():
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)
