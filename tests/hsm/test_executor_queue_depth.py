"""The HSM queue depth gauge: sampled by the executor after each batch, never counted per job.

Counting each job in (on the event loop) and out (on the HSM thread) took a metrics lock both
threads share on every request; the executor now reports what is waiting when a batch ends, and
only when that changed. The token plays no part in the queue's bookkeeping: a stand-in that opens
and closes is enough here (the executor against the real token is in the other tests of this folder).
"""

from __future__ import annotations

import threading
import time

from gateway.core.ports.metrics import NoMetrics
from gateway.hsm.executor import HsmExecutor
from gateway.telemetry import metrics


class IdleToken:
    """Opens, closes, and is asked nothing else by jobs that do not touch it."""

    def open(self) -> None:
        pass

    def ensure_canary(self) -> None:
        pass

    def close(self) -> None:
        pass


class Depths(NoMetrics):
    def __init__(self) -> None:
        self.depths: list[int] = []

    def hsm_queue_depth(self, depth: int) -> None:
        self.depths.append(depth)


def test_the_depth_is_what_waits_when_a_batch_ends_and_is_written_when_it_changes() -> None:
    counts = Depths()
    executor = HsmExecutor(IdleToken(), counts)  # type: ignore[arg-type]  # see IdleToken
    executor.start()
    started, release = threading.Event(), threading.Event()

    def slow(_token: object) -> str:
        started.set()
        release.wait(10)
        return "slow"

    answers: list[str] = []
    callers = [threading.Thread(target=lambda: answers.append(executor.run_sync(slow)))]
    try:
        callers[0].start()
        assert started.wait(10)
        for _ in range(3):
            callers.append(threading.Thread(target=lambda: answers.append(executor.run_sync(lambda _t: "quick"))))
            callers[-1].start()
        deadline = time.monotonic() + 10
        while executor._queue.qsize() < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert counts.depths == []  # submitting reports nothing, and nothing moves during a long job
        release.set()
        for caller in callers:
            caller.join(10)
        assert sorted(answers) == ["quick", "quick", "quick", "slow"]
        assert counts.depths == [3, 0]  # 3 queued behind the slow job; none after their own batch
    finally:
        release.set()
        executor.stop()


def test_the_gauge_is_exported() -> None:
    text, _ = metrics.render()
    assert b"kmsgw_hsm_queue_depth" in text
