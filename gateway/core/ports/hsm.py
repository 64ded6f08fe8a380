"""The HSM contract: what the core asks of the token, in key-spec terms and never in PKCS#11 terms.

Master keys are token objects addressed by label (:func:`key_label`: ``<key_id>:v<version>``);
their material never leaves the token. How a key spec becomes mechanisms (and which vendor
numbers SM2 and SM4 use) is the adapter's business: the core asks :meth:`HsmPort.spec_support`
and :meth:`HsmPort.data_cipher` and turns a "no" into a clean error. Every call is one job on the
adapter's single HSM thread; the list-taking calls let a whole batch cost one hand-off.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from gateway.core.model import KeySpec, KeyUsage

RESERVED_LABEL_PREFIX = "kmsgw:"  # the gateway's own objects (sealing keys, canary, copies), never master keys


def key_label(key_id: str, version: int) -> str:
    """The label of a master key's token object (both halves of a key pair carry it)."""
    return f"{key_id}:v{version}"


class Sealed(NamedTuple):
    """AES-256-GCM output: the IV the token drew and the ciphertext with its tag appended."""

    iv: bytes
    body: bytes


class SealItem(NamedTuple):
    plaintext: bytes
    aad: bytes


class OpenItem(NamedTuple):
    label: str
    iv: bytes
    body: bytes  # ciphertext || tag
    aad: bytes


class SealedDataKey(NamedTuple):
    plaintext: bytes
    sealed: Sealed


class SignatureScheme(enum.StrEnum):
    PSS = "pss"
    PKCS1 = "pkcs1"
    ECDSA = "ecdsa"
    SM2 = "sm2"  # the vendor's raw-digest SM2 signature (mechanism from the adapter's table)


@dataclass(frozen=True)
class SignScheme:
    """What to ask of the token for one signing algorithm (chosen by the core, run by the adapter)."""

    scheme: SignatureScheme
    hash_name: str  # sha256 | sha384 | sha512 | sm3
    raw: bool  # True: ``data`` is the message and the token hashes it (RSA only); False: a digest
    field_bytes: int = 0  # ECDSA / SM2: width of r and s (signatures travel as DER)


@dataclass(frozen=True)
class SpecSupport:
    """Whether this gateway and its token can make keys of one spec, and if not, why."""

    configured: bool  # the adapter knows how to make the spec (SM2/SM4 need vendor numbers in the config)
    missing_mechanisms: tuple[int, ...] = ()  # mechanism numbers the spec needs that the token does not list

    @property
    def available(self) -> bool:
        return self.configured and not self.missing_mechanisms


@dataclass(frozen=True)
class DataCipher:
    """What the AES-GCM data path would run for keys of a symmetric spec."""

    gcm: bool  # the spec's keys seal with AES-GCM, so the data path may use them
    mechanism: int | None = None  # the configured cipher mechanism number (for messages), None: none


class ImportRejection(enum.StrEnum):
    DECRYPT = "decrypt"  # the wrapped block does not decrypt under the wrapping key
    LENGTH = "length"  # the material is not 32 bytes of AES key
    MISMATCH = "mismatch"  # a re-import whose key check value differs from the first import
    UNSUPPORTED = "unsupported"  # the token cannot unwrap with this OAEP hash and software OAEP is off
    WRAPPING_KEY_GONE = "wrapping_key_gone"  # the wrapping key pair was destroyed (expired)


class HsmBusy(Exception):
    """A job that had not started when its start deadline passed: it was not run (the token was not
    touched), so the caller may answer "try again later" (e.g. XKS DependencyTimeoutException)."""


class TokenInfo(NamedTuple):
    """What the token says about itself (PKCS#11 CK_TOKEN_INFO), for health reports."""

    manufacturer: str
    model: str
    serial: str
    label: str


class MaterialRejected(Exception):
    """Imported key material was refused; the core turns ``reason`` into its error."""

    def __init__(self, reason: ImportRejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


class HsmPort(Protocol):
    # -- symmetric: the data path -------------------------------------------------------
    async def seal_many(
        self, label: str, items: Sequence[SealItem], *, start_within: float | None = None
    ) -> list[Sealed]:
        """AES-256-GCM under one key, a fresh IV per item. ``start_within``: seconds the job may wait
        for the token before it is dropped unrun (:class:`HsmBusy`); None waits as long as it takes."""
        ...

    async def open_many(self, items: Sequence[OpenItem], *, start_within: float | None = None) -> list[bytes | None]:
        """Plaintexts; None for an item whose tag does not verify or whose key object is gone."""
        ...

    async def generate_sealed(
        self, label: str, count: int, nbytes: int, aad: bytes, *, start_within: float | None = None
    ) -> list[SealedDataKey]:
        """``count`` data keys from the token RNG (one draw), each sealed under ``label``
        (``start_within`` as for :meth:`seal_many`)."""
        ...

    async def random(self, nbytes: int, *, start_within: float | None = None) -> bytes: ...

    # -- key specs and key objects ------------------------------------------------------
    async def spec_support(self, spec: KeySpec) -> SpecSupport: ...

    def data_cipher(self, spec: KeySpec) -> DataCipher: ...

    async def create_key(self, label: str, key_id: str, spec: KeySpec, usage: KeyUsage) -> None:
        """The token object(s) of a master key: a secret key, or a key pair whose private half signs
        (SIGN_VERIFY) or decrypts (ENCRYPT_DECRYPT). Sensitive and never extractable."""
        ...

    async def ensure_aes_key(self, label: str) -> bool:
        """Create a gateway-internal AES key unless it exists; True if created."""
        ...

    async def create_wrapping_key(self, label: str, key_id: str) -> None:
        """An RSA-2048 key pair whose private half only unwraps imported material."""
        ...

    async def destroy(self, labels: Sequence[str]) -> int:
        """Destroy every object with these labels; how many labels had one."""
        ...

    async def secret_key_labels(self) -> list[str]: ...

    async def private_key_labels(self) -> list[str]: ...

    # -- asymmetric ---------------------------------------------------------------------
    async def public_key_der(self, label: str) -> bytes:
        """The SubjectPublicKeyInfo (DER) of a key pair."""
        ...

    async def sign(self, label: str, scheme: SignScheme, data: bytes) -> bytes:
        """PKCS#1 octets for RSA, DER ECDSA-Sig-Value for ECDSA and SM2."""
        ...

    async def verify(self, label: str, scheme: SignScheme, data: bytes, signature: bytes) -> bool: ...

    async def rsa_encrypt(self, label: str, plaintext: bytes, hash_name: str) -> bytes:
        """RSAES-OAEP (``hash_name`` sha1 | sha256) with the key pair's public half."""
        ...

    async def rsa_decrypt(self, label: str, ciphertext: bytes, hash_name: str) -> bytes | None:
        """RSAES-OAEP decryption; None for any block that does not decrypt."""
        ...

    # -- key import (BYOK) --------------------------------------------------------------
    async def oaep_supported(self, hash_name: str) -> bool:
        """Whether the token's own OAEP (encrypt, decrypt, unwrap) takes this hash."""
        ...

    async def unwrap_aes_key(
        self,
        wrap_label: str,
        label: str,
        key_id: str,
        wrapped: bytes,
        hash_name: str,
        *,
        software_oaep: bool,
        expected_kcv: bytes | None,
    ) -> bytes:
        """Unwrap 32 bytes of AES material into the token object ``label``; its key check value.

        ``software_oaep``: when the token lacks the OAEP hash, let the raw RSA block out for OAEP
        decoding in the gateway. Raises :class:`MaterialRejected`.
        """
        ...

    # -- health -------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """False from a fault that healing could not repair until the token answers again."""
        ...

    async def probe(self) -> bool:
        """True when the token answers and its objects are visible (heals on the way if it can)."""
        ...

    async def token_info(self) -> TokenInfo:
        """The token's manufacturer, model, serial number and label."""
        ...
