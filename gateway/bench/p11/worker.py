"""A measuring process: it loads the module itself, holds its sessions and keys, and runs cells on command.

Every worker process is started with the *spawn* method, so it initializes the PKCS#11 library
itself (a forked copy of an initialized library is unusable) and the coordinating process never
loads the module at all. A process hosts one measuring thread in the ``processes`` model, or all
of them in the ``threads`` model. Commands and results travel over a pipe; the PIN arrives the
same way, never in argv or the environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from gateway.bench.p11.catalog import family
from gateway.bench.p11.mechanisms import KeyPlan, MechSpec, Op, Unsupported
from gateway.bench.stats import Histogram

MAX_ERRORS_IN_A_ROW = 200  # a cell whose every call fails stops instead of spinning for its window


@dataclass(frozen=True)
class OpenSpec:
    module: str
    token_label: str
    pin: str = field(repr=False)
    model: str  # "processes" | "threads"
    threads: int  # measuring threads in this process (1 in the processes model)
    env: dict[str, str]  # set before loading the module (e.g. SOFTHSM2_CONF)
    index: int  # this process's number; 0 discovers and owns token keys


@dataclass(frozen=True)
class RunSpec:
    mech: MechSpec
    payload: int
    active: int  # threads of this process that measure
    start_ns: int  # time.monotonic_ns() at which the measured window opens (warm-up before it)
    end_ns: int


_CKR_SPELLING = {
    "FunctionCancelled": "CKR_FUNCTION_CANCELED",
    "TokenNotRecognised": "CKR_TOKEN_NOT_RECOGNIZED",
    "AnotherUserAlreadyLoggedIn": "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    "RandomNoRNG": "CKR_RANDOM_NO_RNG",
    "NoSuchKey": "no such key",
    "NoSuchToken": "no such token",
    "MultipleObjectsReturned": "several objects match",
}


def error_name(exc: BaseException) -> str:
    """``CKR_*`` for a python-pkcs11 error (it maps each return value to a class), else the class name."""
    name = type(exc).__name__
    if name in _CKR_SPELLING:
        return _CKR_SPELLING[name]
    module = type(exc).__module__ or ""
    if module.startswith("pkcs11") and name != "PKCS11Error":
        return "CKR_" + "".join(f"_{c}" if c.isupper() else c.upper() for c in name).lstrip("_")
    return name


class Worker:
    """One session and the keys made in it; measures one cell at a time."""

    def __init__(self, session: Any, lock: Any) -> None:
        self.session = session
        self.lock = lock  # serialized model: held around every call into the module
        self.keys: dict[str, dict[str, Any]] = {}
        self.ops: dict[tuple[str, int], Op] = {}
        self.created: list[Any] = []  # objects this worker must destroy at exit

    def _guard(self) -> AbstractContextManager[Any]:
        return self.lock if self.lock is not None else nullcontext()

    def prepare(self, mech: MechSpec, plan: KeyPlan) -> str | None:
        """Make or find the keys of ``mech``; the reason if the token cannot, else None."""
        if mech.name in self.keys:
            return None
        try:
            with self._guard():
                keys = family(mech).keys(self.session, mech.param, plan)
        except Unsupported as exc:
            return str(exc)
        except Exception as exc:
            if plan.mode != "session" and error_name(exc) in ("no such key", "several objects match"):
                return f"{error_name(exc)} labelled {plan.label!r} for {mech.name} on the token"
            return f"keys for {mech.name}: {error_name(exc)} {exc}".strip()
        self.keys[mech.name] = keys
        if plan.mode == "session" or (plan.mode == "token" and plan.create):
            self.created += [keys[k] for k in ("secret", "private", "public") if k in keys]
        return None

    def operation(self, mech: MechSpec, payload: int) -> Op:
        cached = self.ops.get((mech.name, payload))
        if cached is None:
            keys = self.keys[mech.name]
            with self._guard():
                cached = family(mech).operation(self.session, keys, mech.param, payload)
            self.created += keys.pop("_made", [])
            if self.lock is not None:
                cached = _locked(cached, self.lock)
            self.ops[(mech.name, payload)] = cached
        return cached

    def measure(self, run: RunSpec) -> dict[str, Any]:
        try:
            op = self.operation(run.mech, run.payload)
        except Unsupported as exc:
            return {"skipped": str(exc)}
        except Exception as exc:
            return {"failed": f"{error_name(exc)} {exc}".strip()}
        clock = time.monotonic_ns
        hist, errors = Histogram(), Counter[str]()
        in_a_row = 0
        t = clock()
        while t < run.start_ns:  # warm-up: caches, lazy paths, CPU frequency
            try:
                op()
            except Exception:
                in_a_row += 1
                if in_a_row > MAX_ERRORS_IN_A_ROW:
                    break
            t = clock()
        cpu0, t0, in_a_row = time.thread_time(), t, 0
        while t < run.end_ns:
            try:
                op()
            except Exception as exc:
                errors[error_name(exc)] += 1
                in_a_row += 1
                t = clock()
                if in_a_row > MAX_ERRORS_IN_A_ROW:
                    break
                continue
            t1 = clock()
            hist.record(t1 - t)
            t, in_a_row = t1, 0
        return {
            "ops": hist.count,
            "seconds": max(1e-9, (t - t0) / 1e9),
            "errors": dict(errors),
            "cpu_s": time.thread_time() - cpu0,
            "histogram": hist,
            "note": self.keys[run.mech.name].get("_note", ""),
        }

    def _destroy(self, obj: Any) -> bool:
        # A failure means the object went with its session already: nothing is left behind.
        with contextlib.suppress(Exception), self._guard():
            obj.destroy()
            return True
        return False

    def cleanup(self) -> int:
        destroyed = sum(self._destroy(obj) for obj in reversed(self.created))
        self.created.clear()
        with self._guard():
            self.session.close()
        return destroyed


def _locked(op: Op, lock: Any) -> Op:
    def call() -> None:
        with lock:
            op()

    return call


def _open(spec: OpenSpec, setup_lock: Any) -> tuple[list[Worker], Any, Any, str]:
    """Load the module, find the token, open one session per measuring thread (logged in once)."""
    from gateway.bench.p11.module import open_library

    os.environ.update(spec.env)
    with setup_lock:  # SoftHSM2 rewrites its token file at C_Login: one process at a time
        opened = open_library(spec.module, spec.model)
        token = opened.lib.get_token(token_label=spec.token_label)
        sessions = [token.open(user_pin=spec.pin, rw=True)]
        sessions += [token.open(rw=True) for _ in range(spec.threads - 1)]  # login is per application
    return [Worker(s, opened.call_lock) for s in sessions], opened.lib, token, opened.locking


def host_main(conn: Connection, spec: OpenSpec, setup_lock: Any) -> None:
    """Entry point of a spawned worker process: answer commands until "quit" or a closed pipe.

    Ctrl-C reaches the whole process group: the worker ignores it, so the coordinator's "quit"
    still finds it alive to destroy what it made.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        workers, lib, token, locking = _open(spec, setup_lock)
    except Exception as exc:
        conn.send(("error", f"opening token {spec.token_label!r} in {spec.module}: {error_name(exc)} {exc}".strip()))
        return
    conn.send(("ok", {"locking": locking}))
    pool = ThreadPoolExecutor(max_workers=len(workers)) if len(workers) > 1 else None

    def each(fn: Any, count: int) -> list[Any]:
        if pool is None:
            return [fn(workers[0])]
        return list(pool.map(fn, workers[:count]))

    while True:
        try:
            command, arg = conn.recv()
        except EOFError:
            command, arg = "quit", None
        try:
            if command == "discover":
                from gateway.bench.p11.discovery import discover

                conn.send(("ok", discover(lib, token, spec.module).to_json()))
            elif command == "prepare":
                mech, plan = arg
                reasons = [workers[0].prepare(mech, plan)]  # the first thread makes token keys, the rest find them
                if len(workers) > 1 and not reasons[0]:
                    found = replace(plan, create=False)
                    reasons += each(
                        lambda w, m=mech, p=found: w.prepare(m, p) if w is not workers[0] else None, len(workers)
                    )
                conn.send(("ok", [r for r in reasons if r]))
            elif command == "run":
                conn.send(("ok", each(lambda w, r=arg: w.measure(r), arg.active)))
            elif command == "quit":
                destroyed = sum(each(Worker.cleanup, len(workers)))
                conn.send(("ok", destroyed))
                break
        except Exception as exc:
            conn.send(("error", f"{command}: {error_name(exc)} {exc}\n{traceback.format_exc(limit=4)}"))
    if pool is not None:
        pool.shutdown()
