"""Asymmetric master keys: sign / verify, public keys, RSA encrypt-data and decrypt-data.

The private half of every pair is a token object (sensitive, never extractable) labelled
``<key_id>:v1`` like its public half; signing and RSA decryption run in the token. Which specs the
token can make is asked at create-key (gateway/core/keyspecs.py); here the core picks the signing
scheme and checks inputs, and the HSM port runs it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core import validate
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess, require_usable
from gateway.core.keyspecs import FIELD_BYTES, HASH_BYTES, KeyFamily, family, oaep_max_plaintext
from gateway.core.model import Caller, DecryptedData, EncryptedData, KeyRecord, KeySpec, KeyUsage
from gateway.core.ports.hsm import HsmPort, SignatureScheme, SignScheme, key_label

MESSAGE_MAX_BYTES = 4096
SIGNATURE_MAX_BYTES = 1024
# signing_algorithm -> (key family, scheme, hash)
SIGNING_ALGORITHMS: dict[str, tuple[KeyFamily, SignatureScheme, str]] = {
    "RSASSA_PSS_SHA_256": (KeyFamily.RSA, SignatureScheme.PSS, "sha256"),
    "RSASSA_PSS_SHA_384": (KeyFamily.RSA, SignatureScheme.PSS, "sha384"),
    "RSASSA_PSS_SHA_512": (KeyFamily.RSA, SignatureScheme.PSS, "sha512"),
    "RSASSA_PKCS1_V1_5_SHA_256": (KeyFamily.RSA, SignatureScheme.PKCS1, "sha256"),
    "RSASSA_PKCS1_V1_5_SHA_384": (KeyFamily.RSA, SignatureScheme.PKCS1, "sha384"),
    "RSASSA_PKCS1_V1_5_SHA_512": (KeyFamily.RSA, SignatureScheme.PKCS1, "sha512"),
    "ECDSA_SHA_256": (KeyFamily.EC, SignatureScheme.ECDSA, "sha256"),
    "ECDSA_SHA_384": (KeyFamily.EC, SignatureScheme.ECDSA, "sha384"),
    "ECDSA_SHA_512": (KeyFamily.EC, SignatureScheme.ECDSA, "sha512"),
    "SM2DSA_SM3": (KeyFamily.SM2, SignatureScheme.SM2, "sm3"),
}
RSA_ENCRYPTION_ALGORITHMS = {"RSAES_OAEP_SHA_1": "sha1", "RSAES_OAEP_SHA_256": "sha256"}
_PUBLIC_KEY_CACHE_MAX = 10_000


@dataclass
class Signature:
    key_id: str
    signature: bytes  # RSA: the PKCS#1 octets; ECDSA / SM2: DER ECDSA-Sig-Value
    signing_algorithm: str


@dataclass
class Verification:
    key_id: str
    signature_valid: bool


@dataclass
class PublicKey:
    key_id: str
    der: bytes  # SubjectPublicKeyInfo
    key_spec: KeySpec
    key_usage: KeyUsage

    @property
    def pem(self) -> str:
        body = base64.b64encode(self.der).decode()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


class AsymmetricOps:
    def __init__(self, hsm: HsmPort, keys: KeyAccess) -> None:
        self._hsm = hsm
        self._keys = keys
        self._public_keys: dict[str, bytes] = {}  # label -> DER: a key pair's public half never changes

    # -- sign / verify / public key ------------------------------------------------------
    async def sign(
        self,
        caller: Caller,
        key_id: str,
        message: bytes,
        signing_algorithm: str,
        message_type: str = "",
        *,
        sequence: str | None = None,
    ) -> Signature:
        validate.sequence(sequence)
        rec = self._signing_key(caller, key_id, "sign")
        scheme = _scheme(rec, signing_algorithm, message, message_type)
        label = key_label(rec.key_id, rec.current_version)
        sig = await self._hsm.sign(label, scheme, _payload(scheme, message, message_type))
        return Signature(key_id=rec.key_id, signature=sig, signing_algorithm=signing_algorithm)

    async def verify(
        self,
        caller: Caller,
        key_id: str,
        message: bytes,
        signature: bytes,
        signing_algorithm: str,
        message_type: str = "",
        *,
        sequence: str | None = None,
    ) -> Verification:
        """signature_valid false for any signature that does not verify, however malformed."""
        validate.sequence(sequence)
        rec = self._signing_key(caller, key_id, "verify")
        scheme = _scheme(rec, signing_algorithm, message, message_type)
        if not signature:
            raise KmsError(Err.MISSING_PARAMETER, "signature is required.")
        if len(signature) > SIGNATURE_MAX_BYTES:
            return Verification(key_id=rec.key_id, signature_valid=False)
        label = key_label(rec.key_id, rec.current_version)
        ok = await self._hsm.verify(label, scheme, _payload(scheme, message, message_type), signature)
        return Verification(key_id=rec.key_id, signature_valid=bool(ok))

    async def get_public_key(self, caller: Caller, key_id: str, *, sequence: str | None = None) -> PublicKey:
        validate.sequence(sequence)
        validate.key_id(key_id)
        rec = self._keys.owned(caller, key_id, "get-publickey")
        require_usable(rec)
        if rec.key_type != 2:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} is symmetric: it has no public key.")
        return PublicKey(rec.key_id, await self._public_der(rec), rec.key_spec, rec.key_usage)

    def _signing_key(self, caller: Caller, key_id: str, operation: str) -> KeyRecord:
        validate.key_id(key_id)
        rec = self._keys.usable(caller, key_id, usage=KeyUsage.SIGN_VERIFY, symmetric=False, operation=operation)
        if rec.key_type != 2:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} cannot sign.")
        return rec

    async def _public_der(self, rec: KeyRecord) -> bytes:
        label = key_label(rec.key_id, rec.current_version)
        der = self._public_keys.get(label)
        if der is None:
            der = await self._hsm.public_key_der(label)
            if len(self._public_keys) >= _PUBLIC_KEY_CACHE_MAX:
                self._public_keys.clear()
            self._public_keys[label] = der
        return der

    # -- RSA encrypt-data / decrypt-data (dispatched from data.py) -----------------------
    async def encrypt_data_asymmetric(
        self,
        caller: Caller,
        key_id: str,
        plain_text: bytes,
        encryption_algorithm: str,
        encryption_context: Mapping[str, str] | None = None,
        additional_authenticated_data: str | None = None,
    ) -> EncryptedData:
        rec, hash_name = self._rsa_key(caller, key_id, encryption_algorithm, "encrypt-data")
        _no_context(encryption_context, additional_authenticated_data)
        limit = oaep_max_plaintext(rec.key_spec, hash_name)
        if not 1 <= len(plain_text) <= limit:
            raise KmsError(
                Err.INVALID_PARAMETER,
                f"plain_text must be 1 to {limit} bytes for {rec.key_spec} with {encryption_algorithm}.",
            )
        label = key_label(rec.key_id, rec.current_version)
        body = await self._hsm.rsa_encrypt(label, plain_text, hash_name)
        return EncryptedData(key_id=rec.key_id, cipher_text=body)

    async def decrypt_data_asymmetric(
        self,
        caller: Caller,
        cipher_text: bytes,
        key_id: str | None,
        encryption_algorithm: str,
        encryption_context: Mapping[str, str] | None = None,
        additional_authenticated_data: str | None = None,
    ) -> DecryptedData:
        """An RSA ciphertext is the raw OAEP block: it names no key, so key_id is required."""
        if not key_id:
            raise KmsError(Err.MISSING_PARAMETER, "key_id is required to decrypt an RSA ciphertext.")
        rec, hash_name = self._rsa_key(caller, key_id, encryption_algorithm, "decrypt-data")
        _no_context(encryption_context, additional_authenticated_data)
        label = key_label(rec.key_id, rec.current_version)
        plain = await self._hsm.rsa_decrypt(label, cipher_text, hash_name)
        if plain is None:
            raise KmsError(Err.RSA_DECRYPT_FAILED)
        return DecryptedData(key_id=rec.key_id, plain_text=plain)

    def _rsa_key(self, caller: Caller, key_id: str, algorithm: str, operation: str) -> tuple[KeyRecord, str]:
        hash_name = RSA_ENCRYPTION_ALGORITHMS.get(algorithm)
        if hash_name is None:
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"encryption_algorithm for RSA keys is RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256; got {algorithm!r}.",
            )
        validate.key_id(key_id)
        rec = self._keys.usable(caller, key_id, usage=KeyUsage.ENCRYPT_DECRYPT, symmetric=False, operation=operation)
        if family(rec.key_spec) != KeyFamily.RSA:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"encryption_algorithm {algorithm} needs an RSA key.")
        return rec, hash_name


def _scheme(rec: KeyRecord, signing_algorithm: str, message: bytes, message_type: str) -> SignScheme:
    if not signing_algorithm:
        raise KmsError(Err.MISSING_PARAMETER, "signing_algorithm is required.")
    algo = SIGNING_ALGORITHMS.get(signing_algorithm)
    if algo is None:
        raise KmsError(
            Err.UNSUPPORTED_ALGORITHM,
            f"signing_algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}; got {signing_algorithm!r}.",
        )
    fam, scheme, hash_name = algo
    if fam != family(rec.key_spec):
        raise KmsError(
            Err.KEY_USAGE_MISMATCH, f"signing_algorithm {signing_algorithm} does not apply to {rec.key_spec} keys."
        )
    message_type = message_type or "DIGEST"
    if message_type not in ("DIGEST", "RAW"):
        raise KmsError(Err.INVALID_PARAMETER, "message_type must be DIGEST or RAW.")
    if not 1 <= len(message) <= MESSAGE_MAX_BYTES:
        raise KmsError(Err.INVALID_PARAMETER, f"message must be 1 to {MESSAGE_MAX_BYTES} bytes.")
    if message_type == "DIGEST" and len(message) != HASH_BYTES[hash_name]:
        raise KmsError(
            Err.INVALID_PARAMETER,
            f"A DIGEST message for {signing_algorithm} is the {HASH_BYTES[hash_name]}-byte "
            f"{hash_name.upper()} digest; got {len(message)} bytes.",
        )
    if fam == KeyFamily.SM2:
        if message_type != "DIGEST":
            raise KmsError(Err.INVALID_PARAMETER, "SM2 keys sign digests only: SM3(Z(A) || M), message_type DIGEST.")
        return SignScheme(scheme, hash_name, False, FIELD_BYTES[KeySpec.SM2])
    if fam == KeyFamily.EC:  # CKM_ECDSA signs a digest: a RAW message is hashed here (public data, no secret)
        return SignScheme(scheme, hash_name, False, FIELD_BYTES[rec.key_spec])
    return SignScheme(scheme, hash_name, message_type == "RAW")


def _payload(scheme: SignScheme, message: bytes, message_type: str) -> bytes:
    if scheme.scheme == SignatureScheme.ECDSA and (message_type or "DIGEST") == "RAW":
        return hashlib.new(scheme.hash_name, message).digest()
    return message


def _no_context(encryption_context: Mapping[str, str] | None, aad: str | None) -> None:
    if encryption_context or aad:
        raise KmsError(Err.INVALID_PARAMETER, "RSA encryption takes no encryption_context or additional data.")
