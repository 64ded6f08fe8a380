"""encrypt-data / decrypt-data: small payloads (≤ 4096 bytes) sealed directly by a master key.

decrypt-data needs nothing but the ciphertext: the blob names its key and version. A
blob of another project's key answers KEY_NOT_FOUND, exactly like a key that does not exist.
RSAES-OAEP algorithms go to the asymmetric operations (asymmetric.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.core import ciphertext as ct
from gateway.core import validate
from gateway.core.asymmetric import AsymmetricOps
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller, DecryptedData, EncryptedData
from gateway.core.ports.hsm import HsmPort, OpenItem, SealItem, key_label
from gateway.core.settings import Settings

SYMMETRIC_ALGORITHMS = ("", "SYMMETRIC_DEFAULT")


class DataOps:
    def __init__(self, hsm: HsmPort, keys: KeyAccess, asymmetric: AsymmetricOps, settings: Settings) -> None:
        self._hsm = hsm
        self._keys = keys
        self._asymmetric = asymmetric
        self._settings = settings

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
        if not 1 <= len(plain_text) <= self._settings.data_max_bytes:
            raise KmsError(Err.INVALID_PARAMETER, "plain_text must be 1 to 4096 bytes.")
        if encryption_algorithm not in SYMMETRIC_ALGORITHMS:
            return await self._asymmetric.encrypt_data_asymmetric(
                caller, key_id, plain_text, encryption_algorithm, encryption_context, additional_authenticated_data
            )
        rec = self._keys.usable(caller, key_id, operation="encrypt-data")
        hdr = ct.header(ct.KIND_DATA, rec.key_id, rec.current_version)
        aad = ct.aad(hdr, ct.context_aad(encryption_context, additional_authenticated_data))
        label = key_label(rec.key_id, rec.current_version)
        [(iv, body)] = await self._hsm.seal_many(label, [SealItem(plain_text, aad)])
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
        if encryption_algorithm not in SYMMETRIC_ALGORITHMS:
            return await self._asymmetric.decrypt_data_asymmetric(
                caller, cipher_text, key_id, encryption_algorithm, encryption_context, additional_authenticated_data
            )
        blob = ct.parse(cipher_text, ct.KIND_DATA, Err.INVALID_PARAMETER)
        if key_id and key_id != blob.key_id:
            validate.key_id(key_id)
            raise KmsError(Err.INVALID_PARAMETER, "The ciphertext was not made with key_id.")
        rec = self._keys.usable(caller, blob.key_id, operation="decrypt-data")
        if blob.version > rec.current_version:  # rotated by another worker since our cached read?
            rec = self._keys.usable(caller, blob.key_id, operation="decrypt-data", cached=False)
        if blob.version > rec.current_version:
            raise KmsError(Err.INVALID_PARAMETER, "The ciphertext names a key version that does not exist.")
        aad = ct.aad(blob.header, ct.context_aad(encryption_context, additional_authenticated_data))
        label = key_label(rec.key_id, blob.version)
        [plain] = await self._hsm.open_many([OpenItem(label, blob.iv, blob.sealed, aad)])
        if plain is None:
            raise KmsError(Err.INVALID_PARAMETER, "The ciphertext or its encryption context does not verify.")
        return DecryptedData(key_id=rec.key_id, plain_text=plain)
