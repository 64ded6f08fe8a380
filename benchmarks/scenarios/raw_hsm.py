"""The HSM limit: python-pkcs11 straight into SoftHSM2, no gateway, no transport.

Measured by the packaged engine (``kmsgw bench p11``): worker processes started with the *spawn*
method each initialize the PKCS#11 library themselves (python-pkcs11 calls ``C_Initialize(NULL)``,
which leaves SoftHSM2 without locking, and a forked copy of an initialized library is unusable);
the runner process never loads the library. AES-GCM with fresh random 96-bit nonces and a small AAD.
SoftHSM2 is a software token: these rates are the host CPU's, not an HSM's.
"""

from __future__ import annotations

from benchmarks.engine import raw_row
from benchmarks.harness import Context, Result, scenario


@scenario("raw.wrap", "raw PKCS#11 AES-256-GCM wrap, 32 B, 1 process")
def raw_wrap(ctx: Context) -> Result:
    """The HSM limit: C_Encrypt AES-GCM of a 32-byte data key under a token key, one process. The baseline."""
    return raw_row(ctx, "aes-gcm:256", keys="token", notes="python-pkcs11 -> SoftHSM2, 1 thread, token key")


@scenario("raw.wrap_2proc", "raw PKCS#11 AES-256-GCM wrap, 2 processes")
def raw_wrap_2proc(ctx: Context) -> Result:
    """What a gateway with one HSM worker per core could reach: two processes, one token key."""
    return raw_row(ctx, "aes-gcm:256", concurrency=2, keys="token", notes="sum of 2 processes, own library init each")


@scenario("raw.wrap_session_copy", "raw PKCS#11 wrap, session copy of the key, 1 process")
def raw_wrap_session_copy(ctx: Context) -> Result:
    """The same wrap under a session object (CKA_TOKEN=false). With the file backend SoftHSM2 opens,
    locks and reads the token's files before each use of a *token* object (strace: ~2 openat + ~6
    fcntl per C_Encrypt); a session object skips that. Informative for the gateway's hot path; the
    baseline stays raw.wrap."""
    return raw_row(ctx, "aes-gcm:256", keys="session", notes="session key (CKA_TOKEN=false), 1 thread")


@scenario("raw.wrap_session_copy_2proc", "raw PKCS#11 wrap, session copy of the key, 2 processes")
def raw_wrap_session_copy_2proc(ctx: Context) -> Result:
    """Two processes, each with its own session key: whether processes scale once the per-use
    token-file check (and its cross-process file lock) is out of the way."""
    return raw_row(ctx, "aes-gcm:256", concurrency=2, keys="session", notes="sum of 2 processes, session keys")


@scenario("raw.random32", "raw PKCS#11 C_GenerateRandom, 32 B")
def raw_random32(ctx: Context) -> Result:
    """The cost of drawing a data key (or an IV) from the token's RNG, one thread."""
    return raw_row(ctx, "random", payload=32, notes="python-pkcs11 -> SoftHSM2, 1 thread")
