"""The HSM limit: python-pkcs11 straight into SoftHSM2, no gateway, no transport.

Every measurement runs in worker processes started with the *spawn* method, so each initializes
the PKCS#11 library itself (python-pkcs11 calls ``C_Initialize(NULL)``, which leaves SoftHSM2
without locking: calls must never overlap inside one process, and a forked copy of an initialized
library is not usable). The runner process never loads the library at all.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from benchmarks.harness import BenchToken, Context, Result, scenario

WRAP_KEY_LABEL = "bench-wrap"
DATA_KEY = bytes(range(32))  # the plaintext wrapped: a 32-byte data key (content is irrelevant)
AAD = b"bench-encryption-context"  # a small AAD, as an encryption context would be
BATCH = 256  # operations between clock reads, so the clock costs < 1%


@dataclass(frozen=True)
class _Figures:
    ops: int
    seconds: float


def _open_session(token: BenchToken):
    os.environ["SOFTHSM2_CONF"] = str(token.conf)
    import pkcs11

    lib = pkcs11.lib(token.module)
    return lib.get_token(token_label=token.label).open(user_pin=token.pin, rw=True)


def _generate_wrap_key(token: BenchToken) -> None:
    """Create the AES-256 master key as a non-extractable token object (once per run)."""
    from pkcs11 import Attribute, KeyType

    with _open_session(token) as session:
        session.generate_key(
            KeyType.AES, 256, label=WRAP_KEY_LABEL, store=True,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )  # fmt: skip


def _worker(token: BenchToken, op: str, seconds: float, setup_lock, barrier, out) -> None:
    """One process: init the library, warm up, wait for the others, then loop ``op`` for ``seconds``."""
    try:
        out.put(_run_worker(token, op, seconds, setup_lock, barrier))
    except BaseException as exc:
        out.put(f"{type(exc).__name__}: {exc}")  # the runner reports it instead of waiting
        raise


def _run_worker(token: BenchToken, op: str, seconds: float, setup_lock, barrier) -> _Figures:
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.mechanisms import GCMParams

    # One process at a time through init + login: SoftHSM2 rewrites token.object on C_Login, and a
    # process enumerating the token meanwhile can read it half-written and see no token
    # (NoSuchToken) or fail with CKR_GENERAL_ERROR -- seen here in about 1 start in 40.
    with setup_lock:
        session = _open_session(token)
        key = session.get_key(label=WRAP_KEY_LABEL, key_type=KeyType.AES, object_class=ObjectClass.SECRET_KEY)
        if op == "wrap_session":
            # C_CopyObject into a session object: same non-extractable key, still inside the token,
            # but SoftHSM2 no longer re-checks the token files on disk before every operation.
            key = key.copy({Attribute.TOKEN: False})
    with session:
        prefix = os.urandom(4)  # nonce = 4 random bytes + 8-byte counter: unique per process and call
        counter = 0

        def wrap() -> None:
            nonlocal counter
            counter += 1
            nonce = prefix + counter.to_bytes(8, "big")
            key.encrypt(DATA_KEY, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, AAD, 128))

        def random32() -> None:
            session.generate_random(256)  # bits

        fn = {"wrap": wrap, "wrap_session": wrap, "random32": random32}[op]
        for _ in range(2 * BATCH):
            fn()
        barrier.wait(60)
        ops = 0
        start = time.perf_counter()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            for _ in range(BATCH):
                fn()
            ops += BATCH
        return _Figures(ops, now - start)


def _ensure_key(ctx: Context) -> BenchToken:
    token = ctx.token()
    if not ctx.state.get("raw.key"):
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            pool.submit(_generate_wrap_key, token).result(timeout=120)
        ctx.state["raw.key"] = True
    return token


def _measure(ctx: Context, op: str, processes: int, unit: str, notes: str) -> Result:
    token = _ensure_key(ctx)
    spawn = mp.get_context("spawn")
    barrier = spawn.Barrier(processes)
    setup_lock = spawn.Lock()
    out = spawn.Queue()
    workers = [
        spawn.Process(target=_worker, args=(token, op, ctx.seconds, setup_lock, barrier, out), daemon=True)
        for _ in range(processes)
    ]
    deadline = time.monotonic() + ctx.seconds + 90
    figures: list[_Figures] = []
    try:
        for w in workers:
            w.start()
        while len(figures) < processes:
            try:
                got = out.get(timeout=0.5)
            except queue.Empty:
                if time.monotonic() > deadline or any(w.exitcode not in (None, 0) for w in workers):
                    codes = [w.exitcode for w in workers]
                    raise RuntimeError(f"HSM worker(s) gave no result (exit codes {codes})") from None
                continue
            if isinstance(got, str):
                raise RuntimeError(f"HSM worker failed: {got}")
            figures.append(got)
    finally:
        for w in workers:
            w.join(5)
            if w.is_alive():
                w.terminate()
                w.join(5)
            if w.is_alive():
                w.kill()
    return Result(
        rate=sum(f.ops / f.seconds for f in figures),
        unit=unit,
        ops=sum(f.ops for f in figures),
        seconds=max(f.seconds for f in figures),
        notes=notes,
    )


@scenario("raw.wrap", "raw PKCS#11 AES-256-GCM wrap, 32 B, 1 process")
def raw_wrap(ctx: Context) -> Result:
    """The HSM limit: C_Encrypt AES-GCM of a 32-byte data key, one thread, no IPC. The baseline."""
    return _measure(ctx, "wrap", 1, "ops/s", "python-pkcs11 -> SoftHSM2, 1 thread")


@scenario("raw.wrap_2proc", "raw PKCS#11 AES-256-GCM wrap, 2 processes")
def raw_wrap_2proc(ctx: Context) -> Result:
    """What a gateway with one HSM worker per core could reach: two processes, one token."""
    return _measure(ctx, "wrap", 2, "ops/s", "sum of 2 processes, own library init each")


@scenario("raw.wrap_session_copy", "raw PKCS#11 wrap, session copy of the key, 1 process")
def raw_wrap_session_copy(ctx: Context) -> Result:
    """The same wrap with a session-object copy (CKA_TOKEN=false) of the token key. With the file
    backend SoftHSM2 opens, locks and reads the token's files before each use of a *token* object
    (strace: ~2 openat + ~6 fcntl per C_Encrypt); a session object skips that. Informative for the
    gateway's hot path; the baseline stays raw.wrap."""
    return _measure(ctx, "wrap_session", 1, "ops/s", "key copied with CKA_TOKEN=false, 1 thread")


@scenario("raw.wrap_session_copy_2proc", "raw PKCS#11 wrap, session copy of the key, 2 processes")
def raw_wrap_session_copy_2proc(ctx: Context) -> Result:
    """Two processes, each with its own session copy: whether processes scale once the per-use
    token-file check (and its cross-process file lock) is out of the way."""
    return _measure(ctx, "wrap_session", 2, "ops/s", "sum of 2 processes, key copied with CKA_TOKEN=false")


@scenario("raw.random32", "raw PKCS#11 C_GenerateRandom, 32 B")
def raw_random32(ctx: Context) -> Result:
    """The cost of drawing a data key (or an IV) from the token's RNG, one thread."""
    return _measure(ctx, "random32", 1, "ops/s", "python-pkcs11 -> SoftHSM2, 1 thread")
