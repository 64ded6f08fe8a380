"""Data keys: create (with or without plaintext), encrypt and decrypt, singly or in batches.

A single call is a batch of one. A batch returns one :class:`ItemResult` per item, so one
bad item is that item's error and the rest succeed. Data keys come from the token RNG and
are sealed with AES-256-GCM inside the token; their plaintext is never logged or stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core import ciphertext as ct
from gateway.core import validate
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller, DataKey, DecryptedDataKey, ItemResult
from gateway.core.ports.hsm import HsmPort, OpenItem, SealItem, key_label
from gateway.core.ports.metrics import CoreMetrics
from gateway.core.settings import Settings

DIGEST_BYTES = 32
DEFAULT_BITS = 256


@dataclass(slots=True)
class EncryptDataKeyItem:
    key_id: str
    plain_text: bytes  # data key followed by its SHA-256
    datakey_plain_length: int | None  # bytes of the data key alone; None: plain_text's length minus the digest
    encryption_context: Mapping[str, str] | None = None
    additional_authenticated_data: str | None = None


@dataclass(slots=True)
class DecryptDataKeyItem:
    key_id: str
    cipher_text: bytes
    datakey_cipher_length: int | None  # bytes of the data key; None: whatever the ciphertext holds
    encryption_context: Mapping[str, str] | None = None
    additional_authenticated_data: str | None = None


class DataKeyOps:
    def __init__(self, hsm: HsmPort, keys: KeyAccess, settings: Settings, metrics: CoreMetrics) -> None:
        self._hsm = hsm
        self._keys = keys
        self._settings = settings
        self._metrics = metrics

    async def create_data_key(
        self,
        caller: Caller,
        key_id: str,
        datakey_length: int | None = None,
        encryption_context: Mapping[str, str] | None = None,
        *,
        additional_authenticated_data: str | None = None,
        with_plaintext: bool = True,
        sequence: str | None = None,
    ) -> DataKey:
        validate.sequence(sequence)
        results = await self.create_data_keys(
            caller,
            key_id,
            1,
            datakey_length,
            encryption_context,
            additional_authenticated_data=additional_authenticated_data,
            with_plaintext=with_plaintext,
        )
        return results[0]

    async def create_data_keys(
        self,
        caller: Caller,
        key_id: str,
        count: int,
        datakey_length: int | None = None,
        encryption_context: Mapping[str, str] | None = None,
        *,
        additional_authenticated_data: str | None = None,
        with_plaintext: bool = True,
    ) -> list[DataKey]:
        """``count`` data keys under one master key: one random draw, one HSM hand-off."""
        err = Err.INVALID_DATAKEY_LENGTH if with_plaintext else Err.INVALID_DATAKEY_LENGTH_NO_PLAINTEXT
        nbytes = validate.bits_to_bytes(DEFAULT_BITS if datakey_length in (None, 0) else datakey_length, err)
        if isinstance(count, bool) or not 1 <= count <= self._settings.batch_max:
            raise KmsError(Err.INVALID_PARAMETER, f"count must be between 1 and {self._settings.batch_max}.")
        op = "create-datakey" if with_plaintext else "create-datakey-without-plaintext"
        rec = self._keys.usable(caller, key_id, operation=op)
        hdr = ct.header(ct.KIND_DATA_KEY, rec.key_id, rec.current_version)
        aad = ct.aad(hdr, ct.context_aad(encryption_context, additional_authenticated_data))
        made = await self._hsm.generate_sealed(key_label(rec.key_id, rec.current_version), count, nbytes, aad)
        self._metrics.data_keys("create", count)
        return [
            DataKey(key_id=rec.key_id, cipher_text=hdr + iv + body, plain_text=dek if with_plaintext else None)
            for dek, (iv, body) in made
        ]

    async def encrypt_data_key(self, caller: Caller, item: EncryptDataKeyItem, sequence: str | None = None) -> DataKey:
        validate.sequence(sequence)
        [result] = await self.encrypt_data_keys(caller, [item])
        return result.value_or_raise()

    async def encrypt_data_keys(self, caller: Caller, items: list[EncryptDataKeyItem]) -> list[ItemResult[DataKey]]:
        self._check_batch_size(len(items))
        results: list[ItemResult[DataKey]] = [ItemResult() for _ in items]
        groups: dict[str, list[tuple[int, bytes, bytes, bytes]]] = {}  # label -> (index, dek, hdr, aad)
        usable = self._keys.batch_checker(caller, "encrypt-datakey")
        for i, item in enumerate(items):
            try:
                dek = _check_plain_text(item.plain_text, item.datakey_plain_length)
                rec = usable(item.key_id)
                hdr = ct.header(ct.KIND_DATA_KEY, rec.key_id, rec.current_version)
                aad = ct.aad(hdr, ct.context_aad(item.encryption_context, item.additional_authenticated_data))
                groups.setdefault(key_label(rec.key_id, rec.current_version), []).append((i, dek, hdr, aad))
            except KmsError as exc:
                results[i].error = exc
        for label, members in groups.items():
            sealed = await self._hsm.seal_many(label, [SealItem(dek, aad) for _, dek, _, aad in members])
            for (i, dek, hdr, _), (iv, body) in zip(members, sealed, strict=True):
                results[i].value = DataKey(key_id=items[i].key_id, cipher_text=hdr + iv + body)
                results[i].extra["datakey_length"] = len(dek)
        self._metrics.data_keys("encrypt", len(items))
        return results

    async def decrypt_data_key(
        self, caller: Caller, item: DecryptDataKeyItem, sequence: str | None = None
    ) -> DecryptedDataKey:
        validate.sequence(sequence)
        [result] = await self.decrypt_data_keys(caller, [item])
        return result.value_or_raise()

    async def decrypt_data_keys(
        self, caller: Caller, items: list[DecryptDataKeyItem]
    ) -> list[ItemResult[DecryptedDataKey]]:
        self._check_batch_size(len(items))
        results: list[ItemResult[DecryptedDataKey]] = [ItemResult() for _ in items]
        pending: list[tuple[int, OpenItem]] = []
        usable = self._keys.batch_checker(caller, "decrypt-datakey")
        for i, item in enumerate(items):
            try:
                expected = item.datakey_cipher_length
                if expected is not None and not 1 <= expected <= 1024:
                    raise KmsError(Err.INVALID_CIPHER_TEXT_LENGTH)
                rec = usable(item.key_id)
                blob = ct.parse(item.cipher_text, ct.KIND_DATA_KEY, Err.INVALID_CIPHER_TEXT)
                if blob.key_id == rec.key_id and blob.version > rec.current_version:
                    # rotated by another worker since our cached read?
                    rec = self._keys.usable(caller, item.key_id, operation="decrypt-datakey", cached=False)
                if blob.key_id != rec.key_id or blob.version > rec.current_version:
                    raise KmsError(Err.INVALID_CIPHER_TEXT, "The ciphertext was not made with this key.")
                aad = ct.aad(blob.header, ct.context_aad(item.encryption_context, item.additional_authenticated_data))
                pending.append((i, OpenItem(key_label(rec.key_id, blob.version), blob.iv, blob.sealed, aad)))
            except KmsError as exc:
                results[i].error = exc
        if pending:
            opened = await self._hsm.open_many([open_item for _, open_item in pending])
            for (i, _), dek in zip(pending, opened, strict=True):
                if dek is None:
                    results[i].error = KmsError(
                        Err.INVALID_CIPHER_TEXT, "The ciphertext or its encryption context does not verify."
                    )
                elif items[i].datakey_cipher_length not in (None, len(dek)):
                    results[i].error = KmsError(Err.INVALID_CIPHER_TEXT_LENGTH)
                else:
                    results[i].value = DecryptedDataKey(
                        data_key=dek, datakey_length=len(dek), datakey_digest=hashlib.sha256(dek).digest()
                    )
        self._metrics.data_keys("decrypt", len(items))
        return results

    def _check_batch_size(self, n: int) -> None:
        """A whole batch is refused only for its size; everything else is per item."""
        if n > self._settings.batch_max:
            raise KmsError(Err.INVALID_PARAMETER, f"A batch holds at most {self._settings.batch_max} items.")


def _check_plain_text(plain_text: bytes, length: int | None) -> bytes:
    """plain_text is the data key followed by its SHA-256; check both and return the key.

    ``length`` None: the key is whatever precedes the digest (it must still be 1 to 1024 bytes)."""
    if length is None:
        if not 1 <= len(plain_text) - DIGEST_BYTES <= 1024:
            raise KmsError(Err.INVALID_PLAIN_TEXT, "plain_text must be a 1 to 1024-byte data key and its SHA-256.")
        length = len(plain_text) - DIGEST_BYTES
    elif isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 1024:
        raise KmsError(Err.INVALID_PLAIN_TEXT_LENGTH)
    if len(plain_text) != length + DIGEST_BYTES:
        raise KmsError(Err.INVALID_PLAIN_TEXT, "plain_text must be the data key followed by its 32-byte SHA-256.")
    dek, digest = plain_text[:length], plain_text[length:]
    if not hmac.compare_digest(hashlib.sha256(dek).digest(), digest):
        raise KmsError(Err.DEK_HASH_MISMATCH)
    return dek
