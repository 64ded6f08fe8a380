"""encrypt-data / decrypt-data: small payloads (≤ 4096 bytes) sealed directly by a master key.

decrypt-data needs nothing but the ciphertext: the blob names its key and version. A
blob of another project's key answers KEY_NOT_FOUND, exactly like a key that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.core import ciphertext as ct
from gateway.core import validate
from gateway.core.base import CoreBase
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller, DecryptedData, EncryptedData
from gateway.hsm.port import key_label

SYMMETRIC_ALGORITHMS = ("", "SYMMETRIC_DEFAULT")


class DataOps(CoreBase):
    async def encrypt_data(
        self,
        caller: Caller,
        key_id: str,
        plain_text: bytes,
        encryption_context: Mapping[str, str] | None = None,
        *,
        additional_authenticated_data: str | None = None,
        encryption_algorithm: str = "",
        sequence: str | None = None,
    ) -> EncryptedData:
        validate.sequence(sequence)
        if not 1 <= len(plain_text) <= self.settings.data_max_bytes:
            raise KmsError(Err.INVALID_PARAMETER, "plain_text must be 1 to 4096 bytes.")
        if encryption_algorithm not in SYMMETRIC_ALGORITHMS:  # RSAES_OAEP_*: asymmetric.py
            return await self.encrypt_data_asymmetric(  # type: ignore[attr-defined]
                caller, key_id, plain_text, encryption_algorithm, encryption_context, additional_authenticated_data
            )
        rec = self._usable_key(caller, key_id, operation="encrypt-data")
        hdr = ct.header(ct.KIND_DATA, rec.key_id, rec.current_version)
        aad = ct.aad(hdr, ct.context_aad(encryption_context, additional_authenticated_data))
        [(iv, body)] = await self.hsm.seal_many(key_label(rec.key_id, rec.current_version), [(plain_text, aad)])
        return EncryptedData(key_id=rec.key_id, cipher_text=hdr + iv + body)

    async def decrypt_data(
        self,
        caller: Caller,
        cipher_text: bytes,
        encryption_context: Mapping[str, str] | None = None,
        *,
        additional_authenticated_data: str | None = None,
        key_id: str | None = None,
        encryption_algorithm: str = "",
        sequence: str | None = None,
    ) -> DecryptedData:
        validate.sequence(sequence)
        if encryption_algorithm not in SYMMETRIC_ALGORITHMS:  # RSAES_OAEP_*: asymmetric.py
            return await self.decrypt_data_asymmetric(  # type: ignore[attr-defined]
                caller, cipher_text, key_id, encryption_algorithm, encryption_context, additional_authenticated_data
            )
        blob = ct.parse(cipher_text, ct.KIND_DATA, Err.INVALID_PARAMETER)
        if key_id and key_id != blob.key_id:
            validate.key_id(key_id)
            raise KmsError(Err.INVALID_PARAMETER, "The ciphertext was not made with key_id.")
        rec = self._usable_key(caller, blob.key_id, operation="decrypt-data")
        if blob.version > rec.current_version:  # rotated by another worker since our cached read?
            rec = self._usable_key(caller, blob.key_id, operation="decrypt-data", cached=False)
        if blob.version > rec.current_version:
            raise KmsError(Err.INVALID_PARAMETER, "The ciphertext names a key version that does not exist.")
        aad = ct.aad(blob.header, ct.context_aad(encryption_context, additional_authenticated_data))
        [plain] = await self.hsm.open_many([(key_label(rec.key_id, blob.version), blob.iv, blob.sealed, aad)])
        if plain is None:
            raise KmsError(Err.INVALID_PARAMETER, "The ciphertext or its encryption context does not verify.")
        return DecryptedData(key_id=rec.key_id, plain_text=plain)
