"""The XKS key operations: GetKeyMetadata, Encrypt and Decrypt over the gateway's AES-256 keys.

A keystore exports gateway keys of its project under external key ids (mappings). The checks run
in the order the XKS endpoint documents (docs/xks.md): the mapping exists and its key too
(KeyNotFoundException), the mapping's usage allows the operation (InvalidKeyUsageException), the
key is enabled (InvalidStateException), the payload fits (UnsupportedOperationException), then the
token does the work (DependencyTimeoutException when it cannot take the job in time).

Ciphertext: AES-256-GCM inside the token with the key's *current* version and a 12-byte IV from
the token RNG; the ciphertext is as long as the plaintext and the 16-byte tag travels apart.
``ciphertextMetadata`` is :data:`METADATA` — a format byte and the key version — so decrypt finds
the version after any number of rotations. The AAD fed to the token is the specification's
``len16(AAD) || AAD || len8(metadata) || metadata``, which binds the metadata to the tag and keeps
an AAD from passing for metadata or the reverse.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess, require_usable
from gateway.core.model import Caller, KeyRecord, KeySpec, KeyState, KeyUsage
from gateway.core.ports.hsm import HsmBusy, HsmPort, OpenItem, SealItem, key_label
from gateway.core.ports.store import XksKeyRow
from gateway.core.xks.directory import XksDirectory
from gateway.core.xks.errors import XksError, XksName
from gateway.core.xks.names import DECRYPT, ENCRYPT

METADATA = struct.Struct(">BI")  # format, key version
METADATA_FORMAT = 1  # AES-256-GCM, the specification's length-prefixed AAD layout
IV_BYTES = 12
TAG_BYTES = 16
MAX_PAYLOAD = 64 * 1024  # plaintext and ciphertext; the specification's minimum is 4,300 bytes
MAX_AAD = 0xFFFF  # what the AAD's 2-byte length prefix can state; the specification's minimum is 8,192


@dataclass(frozen=True)
class XksKeyMetadata:
    key_spec: str
    key_usage: tuple[str, ...]
    key_status: str  # ENABLED | DISABLED


@dataclass(frozen=True)
class XksCiphertext:
    ciphertext: bytes
    iv: bytes
    tag: bytes
    metadata: bytes
    integrity_value: bytes | None  # SHA-256 CDIV when asked for


def token_aad(aad: bytes, metadata: bytes) -> bytes:
    """The AAD the token sees: ``len16(aad) || aad || len8(metadata) || metadata`` (big-endian)."""
    return len(aad).to_bytes(2, "big") + aad + bytes((len(metadata),)) + metadata


def integrity_value(aad: bytes, out: XksCiphertext) -> bytes:
    """The specification's CDIV: SHA-256 over AAD || metadata || IV || ciphertext || tag."""
    return hashlib.sha256(aad + out.metadata + out.iv + out.ciphertext + out.tag).digest()


def _invalid_ciphertext(detail: str) -> XksError:
    return XksError(XksName.INVALID_CIPHERTEXT, Err.INVALID_CIPHER_TEXT, detail)


class XksCrypto:
    def __init__(
        self, hsm: HsmPort, keys: KeyAccess, directory: XksDirectory, start_within: float | None = None
    ) -> None:
        self._hsm = hsm
        self._keys = keys
        self._directory = directory
        self._start_within = start_within  # seconds a token job may wait before DependencyTimeoutException

    async def get_key_metadata(self, caller: Caller, uri_prefix: str, xks_key_id: str) -> XksKeyMetadata:
        mapping, rec = self._resolve(caller, uri_prefix, xks_key_id)
        status = "ENABLED" if rec.key_state == KeyState.ENABLED else "DISABLED"
        return XksKeyMetadata(KeySpec.AES_256.value, mapping.key_usage, status)

    async def encrypt(
        self, caller: Caller, uri_prefix: str, xks_key_id: str, plaintext: bytes, aad: bytes, *, integrity: bool
    ) -> XksCiphertext:
        # The integrity value promises that a decrypt will succeed, which only a key that may decrypt can keep.
        needs = (ENCRYPT, DECRYPT) if integrity else (ENCRYPT,)
        mapping, rec = self._resolve(caller, uri_prefix, xks_key_id)
        self._check(mapping, rec, needs)
        self._check_sizes(plaintext, aad)
        metadata = METADATA.pack(METADATA_FORMAT, rec.current_version)
        label = key_label(rec.key_id, rec.current_version)
        try:
            [(iv, body)] = await self._hsm.seal_many(
                label, [SealItem(plaintext, token_aad(aad, metadata))], start_within=self._start_within
            )
        except HsmBusy:
            raise self._busy() from None
        out = XksCiphertext(body[:-TAG_BYTES], iv, body[-TAG_BYTES:], metadata, None)
        if not integrity:
            return out
        # The value first, then the check (the specification's Appendix C): a bit flipped after the
        # check could otherwise hide behind a value computed over the flipped output.
        value = integrity_value(aad, out)
        plain = await self._open(caller, rec, out.iv, out.ciphertext, out.tag, aad, out.metadata)
        if plain is None or not hmac.compare_digest(plain, plaintext):
            raise XksError(XksName.INTERNAL, Err.INTERNAL, "The new ciphertext did not decrypt; nothing was returned.")
        return XksCiphertext(out.ciphertext, out.iv, out.tag, out.metadata, value)

    async def decrypt(
        self,
        caller: Caller,
        uri_prefix: str,
        xks_key_id: str,
        ciphertext: bytes,
        iv: bytes,
        tag: bytes,
        aad: bytes,
        metadata: bytes | None,
    ) -> bytes:
        mapping, rec = self._resolve(caller, uri_prefix, xks_key_id)
        self._check(mapping, rec, (DECRYPT,))
        self._check_sizes(ciphertext, aad)
        if metadata is None:
            raise _invalid_ciphertext("The ciphertext has no ciphertextMetadata: this gateway always makes one.")
        plain = await self._open(caller, rec, iv, ciphertext, tag, aad, metadata)
        if plain is None:
            raise _invalid_ciphertext(
                "The ciphertext, IV, tag, AAD or metadata does not verify under this key (corrupted or not ours)."
            )
        return plain

    # -- the steps ----------------------------------------------------------------------------
    def _resolve(self, caller: Caller, uri_prefix: str, xks_key_id: str) -> tuple[XksKeyRow, KeyRecord]:
        mapping = self._directory.mapping(uri_prefix, xks_key_id)
        if mapping is None:
            raise XksError(XksName.KEY_NOT_FOUND, Err.KEY_NOT_FOUND, "No key has this id in this keystore.")
        try:
            rec = self._keys.owned(caller, mapping.key_id, cached=True)
        except KmsError as exc:
            if exc.err is Err.KEY_NOT_FOUND:  # deleted since it was mapped
                raise XksError(
                    XksName.KEY_NOT_FOUND, Err.KEY_NOT_FOUND, "The gateway key of this id is gone."
                ) from None
            raise
        return mapping, rec

    @staticmethod
    def _check(mapping: XksKeyRow, rec: KeyRecord, needs: tuple[str, ...]) -> None:
        missing = [u for u in needs if u not in mapping.key_usage]
        if missing:
            raise XksError(
                XksName.INVALID_KEY_USAGE,
                Err.KEY_USAGE_MISMATCH,
                f"This key's mapping does not allow {' and '.join(missing)}.",
            )
        require_usable(rec)  # disabled, pending deletion or pending import: InvalidStateException
        if rec.key_spec != KeySpec.AES_256 or rec.key_usage != KeyUsage.ENCRYPT_DECRYPT:
            raise XksError(XksName.INVALID_KEY_USAGE, Err.KEY_USAGE_MISMATCH, "The key is not an AES_256 data key.")

    @staticmethod
    def _check_sizes(payload: bytes, aad: bytes) -> None:
        if len(payload) > MAX_PAYLOAD or len(aad) > MAX_AAD:
            raise XksError(
                XksName.UNSUPPORTED_OPERATION,
                Err.INVALID_PARAMETER,
                f"This gateway takes at most {MAX_PAYLOAD} bytes of plaintext or ciphertext, {MAX_AAD} of AAD.",
            )

    async def _open(
        self, caller: Caller, rec: KeyRecord, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes, metadata: bytes
    ) -> bytes | None:
        """The plaintext, or None when the input is not a ciphertext of this key (metadata included)."""
        if len(metadata) != METADATA.size or len(iv) != IV_BYTES:
            return None  # not metadata or an IV this gateway makes
        fmt, version = METADATA.unpack(metadata)
        if fmt != METADATA_FORMAT or version < 1:
            return None
        if version > rec.current_version:  # rotated by another worker or node since our cached read?
            rec = self._keys.owned(caller, rec.key_id, cached=False)
            if version > rec.current_version:
                return None
        item = OpenItem(key_label(rec.key_id, version), iv, ciphertext + tag, token_aad(aad, metadata))
        try:
            [plain] = await self._hsm.open_many([item], start_within=self._start_within)
        except HsmBusy:
            raise self._busy() from None
        return plain

    def _busy(self) -> XksError:
        waited = f"{self._start_within * 1000:g} ms" if self._start_within is not None else "its deadline"
        return XksError(XksName.DEPENDENCY_TIMEOUT, Err.HSM_IO, f"The HSM did not take the request within {waited}.")
