"""Cryptography through the AWS API: Encrypt, Decrypt, ReEncrypt, data keys, random, Sign, Verify, GetPublicKey.

Symmetric ciphertexts are the gateway's own blob (gateway/core/ciphertext.py): it names its key and
key version, so Decrypt needs no KeyId and a rotated key keeps opening old blobs; its AES-GCM AAD
binds the encryption context as sorted, compact JSON — exact, case-sensitive, order-independent and
unambiguous (``{"ab":"c"}`` and ``{"a":"bc"}`` are different bytes). A blob that does not open (another
context, a flipped bit, another key's blob) is InvalidCiphertextException with an empty message, as
AWS answers. GenerateDataKey's blob is a data-key blob of the same layout: plain Decrypt opens it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from gateway.core import ciphertext as ct
from gateway.core.aws.access import AwsAccess, AwsKey, require_enabled, require_usage
from gateway.core.aws.directory import AwsDirectory, AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName, validation
from gateway.core.errors import Err, KmsError
from gateway.core.model import KeyUsage
from gateway.core.ports.hsm import HsmBusy, HsmPort, OpenItem, SealItem, key_label
from gateway.core.service import Kms

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
DATA_KEY_SPECS = {"AES_128": 16, "AES_256": 32}
T = TypeVar("T")


@dataclass
class Opened:
    plaintext: bytes
    key: AwsKey
    algorithm: str


def bad_ciphertext() -> AwsError:
    return AwsError(AwsName.INVALID_CIPHERTEXT, "")


class AwsCrypto:
    def __init__(
        self, kms: Kms, hsm: HsmPort, access: AwsAccess, directory: AwsDirectory, start_within: float | None
    ) -> None:
        self._kms = kms
        self._hsm = hsm
        self._access = access
        self._directory = directory
        self._start_within = start_within  # a token job not started by then: DependencyTimeoutException

    # -- encrypt ---------------------------------------------------------------------------------
    async def encrypt(
        self, who: AwsIdentity, key_id: str, plaintext: bytes, context: Mapping[str, str], algorithm: str | None
    ) -> tuple[bytes, AwsKey, str]:
        key = self._usable(who, key_id, "kms:Encrypt", context, "Encrypt")
        return await self._seal(who, key, plaintext, context, algorithm)

    async def _seal(
        self, who: AwsIdentity, key: AwsKey, plaintext: bytes, context: Mapping[str, str], algorithm: str | None
    ) -> tuple[bytes, AwsKey, str]:
        require_usage(key, KeyUsage.ENCRYPT_DECRYPT)
        if key.rec.key_type == 1:
            if algorithm not in (None, SYMMETRIC_DEFAULT):
                raise AwsError(AwsName.INVALID_KEY_USAGE, f"{algorithm} is not valid for {key.arn}.")
            rec = key.rec
            hdr = ct.header(ct.KIND_DATA, rec.key_id, rec.current_version)
            aad = ct.aad(hdr, ct.context_aad(context))
            label = key_label(rec.key_id, rec.current_version)
            job = self._hsm.seal_many(label, [SealItem(plaintext, aad)], start_within=self._start_within)
            [(iv, body)] = await self._timed(job)
            return hdr + iv + body, key, SYMMETRIC_DEFAULT
        if algorithm in (None, SYMMETRIC_DEFAULT):
            raise AwsError(AwsName.INVALID_KEY_USAGE, f"{key.arn} needs an RSAES_OAEP EncryptionAlgorithm.")
        if context:
            raise validation("EncryptionContext is not accepted with asymmetric keys.")
        out = await self._kms.encrypt_data(key.owner(who), key.key_id, plaintext, encryption_algorithm=algorithm)
        return out.cipher_text, key, algorithm

    # -- decrypt ---------------------------------------------------------------------------------
    async def decrypt(
        self,
        who: AwsIdentity,
        blob: bytes,
        context: Mapping[str, str],
        key_id: str | None,
        algorithm: str | None,
        *,
        action: str = "kms:Decrypt",
        grant_operation: str = "Decrypt",
    ) -> Opened:
        if algorithm not in (None, SYMMETRIC_DEFAULT):
            return await self._rsa_decrypt(who, blob, context, key_id, algorithm, action, grant_operation)
        parsed = _parse(blob)
        row = self._directory.key_row(parsed.key_id)
        if row is None or row.region != who.region:
            raise bad_ciphertext()  # not a blob of a key in this region
        if key_id is not None:
            named = self._access.key(who, key_id)
            if named.key_id != parsed.key_id:
                raise AwsError(
                    AwsName.INCORRECT_KEY,
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                )
        key = self._access.by_id(parsed.key_id, row.account_id, row.region)
        self._access.authorize(who, key, action, context, grant_operation)
        require_enabled(key)
        require_usage(key, KeyUsage.ENCRYPT_DECRYPT, symmetric=True)
        if parsed.version > key.rec.current_version:  # rotated by another worker since our cached read?
            key = self._access.by_id(parsed.key_id, row.account_id, row.region, cached=False)
            if parsed.version > key.rec.current_version:
                raise bad_ciphertext()
        try:
            aad = ct.aad(parsed.header, ct.context_aad(context))
        except KmsError:
            raise bad_ciphertext() from None
        item = OpenItem(key_label(parsed.key_id, parsed.version), parsed.iv, parsed.sealed, aad)
        [plain] = await self._timed(self._hsm.open_many([item], start_within=self._start_within))
        if plain is None:
            raise bad_ciphertext()
        return Opened(plain, key, SYMMETRIC_DEFAULT)

    async def _rsa_decrypt(
        self,
        who: AwsIdentity,
        blob: bytes,
        context: Mapping[str, str],
        key_id: str | None,
        algorithm: str,
        action: str,
        grant_operation: str,
    ) -> Opened:
        if key_id is None:
            raise validation("KeyId is required to decrypt with an asymmetric key.")
        key = self._usable(who, key_id, action, context, grant_operation)
        require_usage(key, KeyUsage.ENCRYPT_DECRYPT, symmetric=False)
        if context:
            raise validation("EncryptionContext is not accepted with asymmetric keys.")
        try:
            out = await self._kms.decrypt_data(key.owner(who), blob, key_id=key.key_id, encryption_algorithm=algorithm)
        except KmsError as exc:
            if exc.err is Err.RSA_DECRYPT_FAILED:
                raise bad_ciphertext() from None
            raise
        return Opened(out.plain_text, key, algorithm)

    async def re_encrypt(
        self,
        who: AwsIdentity,
        blob: bytes,
        source_context: Mapping[str, str],
        source_key_id: str | None,
        source_algorithm: str | None,
        destination_key_id: str,
        destination_context: Mapping[str, str],
        destination_algorithm: str | None,
    ) -> tuple[bytes, Opened, AwsKey, str]:
        """Open under the source (kms:ReEncryptFrom), seal under the destination (kms:ReEncryptTo):
        the plaintext never leaves the gateway."""
        opened = await self.decrypt(
            who,
            blob,
            source_context,
            source_key_id,
            source_algorithm,
            action="kms:ReEncryptFrom",
            grant_operation="ReEncryptFrom",
        )
        dest = self._usable(who, destination_key_id, "kms:ReEncryptTo", destination_context, "ReEncryptTo")
        out, dest, algorithm = await self._seal(who, dest, opened.plaintext, destination_context, destination_algorithm)
        return out, opened, dest, algorithm

    # -- data keys and random ----------------------------------------------------------------------
    async def generate_data_key(
        self,
        who: AwsIdentity,
        key_id: str,
        context: Mapping[str, str],
        number_of_bytes: int | None,
        key_spec: str | None,
        *,
        with_plaintext: bool,
    ) -> tuple[bytes, bytes, AwsKey]:
        """(plaintext, ciphertext blob, key): exactly one of NumberOfBytes (1-1024) and KeySpec."""
        if (number_of_bytes is None) == (key_spec is None):
            raise validation("Please specify either number of bytes or key spec (exactly one of them).")
        if key_spec is not None and key_spec not in DATA_KEY_SPECS:
            raise validation("KeySpec must be AES_128 or AES_256.")
        nbytes = DATA_KEY_SPECS[key_spec] if key_spec is not None else number_of_bytes
        assert nbytes is not None
        action = "kms:GenerateDataKey" if with_plaintext else "kms:GenerateDataKeyWithoutPlaintext"
        grant_op = "GenerateDataKey" if with_plaintext else "GenerateDataKeyWithoutPlaintext"
        key = self._usable(who, key_id, action, context, grant_op)
        require_usage(key, KeyUsage.ENCRYPT_DECRYPT, symmetric=True)
        rec = key.rec
        hdr = ct.header(ct.KIND_DATA_KEY, rec.key_id, rec.current_version)
        aad = ct.aad(hdr, ct.context_aad(context))
        label = key_label(rec.key_id, rec.current_version)
        job = self._hsm.generate_sealed(label, 1, nbytes, aad, start_within=self._start_within)
        [(dek, (iv, body))] = await self._timed(job)
        return dek, hdr + iv + body, key

    async def generate_random(self, who: AwsIdentity, number_of_bytes: int | None) -> bytes:
        self._access.allow_own(who, "kms:GenerateRandom")
        if number_of_bytes is None:
            raise validation("NumberOfBytes is required.")
        return await self._timed(self._hsm.random(number_of_bytes, start_within=self._start_within))

    # -- asymmetric -----------------------------------------------------------------------------
    async def sign(
        self, who: AwsIdentity, key_id: str, message: bytes, message_type: str | None, algorithm: str
    ) -> tuple[bytes, AwsKey]:
        key = self._usable(who, key_id, "kms:Sign", None, "Sign")
        require_usage(key, KeyUsage.SIGN_VERIFY, symmetric=False)
        out = await self._kms.sign(key.owner(who), key.key_id, message, algorithm, message_type or "RAW")
        return out.signature, key

    async def verify(
        self, who: AwsIdentity, key_id: str, message: bytes, message_type: str | None, signature: bytes, algorithm: str
    ) -> AwsKey:
        """KMSInvalidSignatureException for a signature that does not verify, as AWS answers."""
        key = self._usable(who, key_id, "kms:Verify", None, "Verify")
        require_usage(key, KeyUsage.SIGN_VERIFY, symmetric=False)
        out = await self._kms.verify(key.owner(who), key.key_id, message, signature, algorithm, message_type or "RAW")
        if not out.signature_valid:
            raise AwsError(AwsName.KMS_INVALID_SIGNATURE, "")
        return key

    async def get_public_key(self, who: AwsIdentity, key_id: str) -> tuple[bytes, AwsKey]:
        key = self._usable(who, key_id, "kms:GetPublicKey", None, "GetPublicKey")
        if key.rec.key_type != 2:
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, f"{key.arn} is symmetric: it has no public key.")
        out = await self._kms.get_public_key(key.owner(who), key.key_id)
        return out.der, key

    # -- helpers -----------------------------------------------------------------------------------
    def _usable(
        self, who: AwsIdentity, key_id: str, action: str, context: Mapping[str, str] | None, grant_operation: str
    ) -> AwsKey:
        key = self._access.key(who, key_id)
        self._access.authorize(who, key, action, context, grant_operation)
        require_enabled(key)
        return key

    @staticmethod
    async def _timed(job: Awaitable[T]) -> T:
        """The token's answer; DependencyTimeoutException when it did not take the job in time."""
        try:
            return await job
        except HsmBusy:
            raise AwsError(AwsName.DEPENDENCY_TIMEOUT, "The HSM did not take the request in time; retry.") from None


def _parse(blob: bytes) -> ct.Blob:
    kind = blob[1] if len(blob) > 1 else 0
    if kind not in (ct.KIND_DATA, ct.KIND_DATA_KEY):
        raise bad_ciphertext()
    try:
        return ct.parse(blob, kind, Err.INVALID_CIPHER_TEXT)
    except KmsError:
        raise bad_ciphertext() from None
