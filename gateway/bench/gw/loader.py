"""A load-generating process: closed loop (N calls always in flight) or open loop (a fixed rate).

In the open loop each call's latency runs from its *scheduled* send time, so a gateway that
stalls is charged for the queue it causes (no coordinated omission); calls that would exceed the
in-flight cap are not sent and counted as dropped. Loaders run in their own spawned processes so
the coordinator's work never skews a figure, and their CPU is measured to flag a client-bound run.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gateway.bench.gw.drivers import DRIVERS, WrongAnswer
from gateway.bench.gw.drivers.base import Call, CallError
from gateway.bench.gw.ops import Endpoint, Fixture
from gateway.bench.stats import Histogram

ERRORS_IN_A_ROW_BACKOFF = 50


@dataclass(frozen=True)
class LoadSpec:
    endpoint: Endpoint
    transport: str
    operation: str
    fixture: Fixture
    payload: int
    batch: int  # 0: unary
    concurrency: int  # closed loop: calls in flight; open loop: the in-flight cap
    rate: float  # open loop: calls/s from this process; 0: closed loop
    connections: int
    verify: bool
    timeout: float
    warm_ns: int  # monotonic time to start warming up
    start_ns: int  # the measured window
    end_ns: int


def error_name(exc: BaseException) -> str:
    if isinstance(exc, CallError):
        return exc.name
    if isinstance(exc, WrongAnswer):
        return "WRONG_ANSWER"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "TIMEOUT"
    return type(exc).__name__


class _Window:
    def __init__(self, spec: LoadSpec) -> None:
        self.start, self.end = spec.start_ns, spec.end_ns
        self.hist = Histogram()
        self.items = 0
        self.errors: Counter[str] = Counter()
        self.dropped = 0
        self.cpu: list[float] = []

    def ok(self, t0: int, t1: int, items: int) -> None:
        if self.start <= t1 <= self.end:
            self.hist.record(t1 - t0)
            self.items += items

    def failed(self, t1: int, exc: BaseException) -> None:
        if self.start <= t1 <= self.end:
            self.errors[error_name(exc)] += 1

    async def clock_cpu(self) -> None:
        """process_time at the window's edges: the loader's own CPU while it measured."""
        for edge in (self.start, self.end):
            await asyncio.sleep(max(0.0, (edge - time.monotonic_ns()) / 1e9))
            self.cpu.append(time.process_time())


async def _closed(call: Call, w: _Window, spec: LoadSpec) -> None:
    async def worker() -> None:
        in_a_row = 0
        while (t0 := time.monotonic_ns()) < w.end:
            try:
                items = await call()
            except Exception as exc:
                w.failed(time.monotonic_ns(), exc)
                in_a_row += 1
                if in_a_row > ERRORS_IN_A_ROW_BACKOFF:  # the gateway is gone: do not spin
                    await asyncio.sleep(0.05)
                continue
            in_a_row = 0
            w.ok(t0, time.monotonic_ns(), items)

    await asyncio.sleep(max(0.0, (spec.warm_ns - time.monotonic_ns()) / 1e9))
    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))


async def _open(call: Call, w: _Window, spec: LoadSpec) -> None:
    in_flight: set[asyncio.Task[None]] = set()

    async def one(scheduled: int) -> None:
        try:
            items = await call()
        except Exception as exc:
            if scheduled >= w.start:
                w.errors[error_name(exc)] += 1
            return
        if scheduled >= w.start:  # calls *scheduled* in the window count, timed from their schedule
            w.hist.record(time.monotonic_ns() - scheduled)
            w.items += items

    first = spec.warm_ns
    interval = 1e9 / spec.rate
    for i in range(math.ceil((w.end - first) / interval)):
        scheduled = first + int(i * interval)
        delay = (scheduled - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= spec.concurrency:
            w.dropped += scheduled >= w.start
            continue
        task = asyncio.create_task(one(scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=spec.timeout + 1)


async def run_load(spec: LoadSpec) -> dict[str, Any]:
    driver = DRIVERS[spec.transport](spec.endpoint, spec.connections, spec.timeout)
    await driver.open()
    try:
        try:
            call = await driver.prepare(spec.operation, spec.fixture, spec.payload, spec.batch, spec.verify)
        except Exception as exc:
            return {"failed": f"preparing {spec.operation} over {spec.transport}: {error_name(exc)} {exc}".strip()}
        w = _Window(spec)
        clock = asyncio.create_task(w.clock_cpu())
        await (_open(call, w, spec) if spec.rate else _closed(call, w, spec))
        await clock
    finally:
        await driver.close()
    return {
        "calls": w.hist.count,
        "items": w.items,
        "seconds": (w.end - w.start) / 1e9,
        "errors": dict(w.errors),
        "dropped": w.dropped,
        "cpu_s": w.cpu[1] - w.cpu[0] if len(w.cpu) == 2 else 0.0,
        "histogram": w.hist,
    }


def loader_main(conn: Connection, nice: int = 0) -> None:
    """Entry point of a spawned loader process: run one load per command until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator stops it (Ctrl-C reaches the whole group)
    if nice:
        os.nice(nice)  # before any thread starts: Linux's niceness is per thread, and threads inherit it
    conn.send(("ok", None))
    while True:
        try:
            command, spec = conn.recv()
        except EOFError:
            return
        if command == "quit":
            conn.send(("ok", None))
            return
        try:
            conn.send(("ok", asyncio.run(run_load(spec))))
        except Exception as exc:
            conn.send(("error", f"{error_name(exc)} {exc}"))
