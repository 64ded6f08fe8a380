"""The HSM port the core talks to, and its python-pkcs11 adapter.

Master keys are addressed by label (``<key_id>:v<version>``); material never leaves
the token. Every call is one job on the executor, and the list-taking calls let a
whole batch of data keys cost a single hand-off.
"""

from __future__ import annotations

from typing import Protocol

from pkcs11.exceptions import NoSuchKey

from gateway.hsm.executor import HsmExecutor
from gateway.hsm.port_asym import AsymmetricHsm
from gateway.hsm.token import TokenSession

Sealed = tuple[bytes, bytes]  # (iv, ciphertext || tag)


def key_label(key_id: str, version: int) -> str:
    return f"{key_id}:v{version}"


class HsmPort(Protocol):
    async def create_aes_key(self, label: str, key_id: str) -> None: ...
    async def ensure_aes_key(self, label: str) -> bool: ...
    async def destroy(self, labels: list[str]) -> int: ...
    async def secret_key_labels(self) -> list[str]: ...
    async def random(self, nbytes: int) -> bytes: ...
    async def seal_many(self, label: str, items: list[tuple[bytes, bytes]]) -> list[Sealed]: ...
    async def open_many(self, items: list[tuple[str, bytes, bytes, bytes]]) -> list[bytes | None]: ...
    async def generate_sealed(self, label: str, count: int, nbytes: int, aad: bytes) -> list[tuple[bytes, Sealed]]: ...


class Pkcs11Hsm(AsymmetricHsm):
    """HsmPort over a PKCS#11 token through the per-process executor."""

    def __init__(self, executor: HsmExecutor) -> None:
        self.executor = executor

    async def create_aes_key(self, label: str, key_id: str) -> None:
        await self.executor.run(lambda t: t.generate_aes_key(label, key_id), "generate_key")

    async def ensure_aes_key(self, label: str) -> bool:
        """Create a gateway-internal key unless it exists; True if created."""

        def job(t: TokenSession) -> bool:
            if t.has_key(label):
                return False
            t.generate_aes_key(label)
            return True

        return await self.executor.run(job, "ensure_key")

    async def destroy(self, labels: list[str]) -> int:
        return await self.executor.run(lambda t: sum(t.destroy(lbl) for lbl in labels), "destroy")

    async def secret_key_labels(self) -> list[str]:
        return await self.executor.run(TokenSession.secret_key_labels, "list_objects")

    async def random(self, nbytes: int) -> bytes:
        return await self.executor.run(lambda t: t.random(nbytes), "random")

    async def seal_many(self, label: str, items: list[tuple[bytes, bytes]]) -> list[Sealed]:
        def job(t: TokenSession) -> list[Sealed]:
            return [t.gcm_seal(label, plaintext, aad) for plaintext, aad in items]

        return await self.executor.run(job, "seal")

    async def open_many(self, items: list[tuple[str, bytes, bytes, bytes]]) -> list[bytes | None]:
        def job(t: TokenSession) -> list[bytes | None]:
            out: list[bytes | None] = []
            for label, iv, sealed, aad in items:
                try:
                    out.append(t.gcm_open(label, iv, sealed, aad))
                except NoSuchKey:  # that version's object is gone: the blob cannot open
                    out.append(None)
            return out

        return await self.executor.run(job, "open")

    async def generate_sealed(self, label: str, count: int, nbytes: int, aad: bytes) -> list[tuple[bytes, Sealed]]:
        def job(t: TokenSession) -> list[tuple[bytes, Sealed]]:
            keys = t.random(count * nbytes)  # one C_GenerateRandom for the whole batch
            out = []
            for i in range(count):
                dek = keys[i * nbytes : (i + 1) * nbytes]
                out.append((dek, t.gcm_seal(label, dek, aad)))
            return out

        return await self.executor.run(job, "generate_data_keys")
