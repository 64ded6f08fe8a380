"""The driver contract: open connections, turn an operation into one awaitable call, close.

A call returns the number of items it completed (1, or the batch size) and raises on any failure;
with ``verify`` it checks the answer too, because a fast wrong answer is an error, not a result.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from gateway.bench.gw.ops import Endpoint, Fixture

Call = Callable[[], Awaitable[int]]


class WrongAnswer(Exception):
    """The gateway answered, but not with what the operation must return."""


class CallError(Exception):
    """A refused or failed call; ``name`` is how it is counted (``grpc:UNAVAILABLE``, ``http:503``...)."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"{name} {detail}".strip())
        self.name = name


class Driver(ABC):
    name = ""

    def __init__(self, endpoint: Endpoint, connections: int, timeout: float) -> None:
        self.endpoint = endpoint
        self.connections = max(1, connections)
        self.timeout = timeout

    @classmethod
    def unavailable(cls, endpoint: Endpoint) -> str | None:
        """Why this transport cannot be measured at ``endpoint`` (nothing configured, not served), or None."""
        return None

    @classmethod
    def unsupported(cls, operation: str, batch: int) -> str | None:
        """Why this transport has no such call (XKS: no signing, no batches), or None; the cell is skipped."""
        return None

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def prepare(self, operation: str, fx: Fixture, payload: int, batch: int, verify: bool) -> Call:
        """Make what the timed call needs (a data key to decrypt, a ciphertext...) and return the call."""


def check_signature(public_key_der: bytes, signature: bytes, digest: bytes, algorithm: str) -> None:
    """Verify a signature the gateway made, with the public key it published."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    key = serialization.load_der_public_key(public_key_der)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        elif isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(signature, digest, pss, utils.Prehashed(hashes.SHA256()))
        else:
            raise WrongAnswer(f"cannot check {algorithm} with a {type(key).__name__}")
    except InvalidSignature:
        raise WrongAnswer(f"{algorithm} signature does not verify") from None


DIGEST = hashlib.sha256(b"kmsgw bench").digest()
