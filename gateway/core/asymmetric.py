"""Asymmetric master keys: key pairs in the token, sign / verify, public keys, RSA encrypt-data.

The private half of every pair is a token object (CKA_SENSITIVE true, CKA_EXTRACTABLE false)
labelled ``<key_id>:v1`` like its public half; signing and RSA decryption run in the token.
Key specs reach the token through the mechanism table (``gateway.hsm.mechanisms``), checked
against the token's own mechanism list, so a spec the token cannot do is a clean 400.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pkcs11 import Mechanism

from gateway.core import validate
from gateway.core.base import CoreBase, require_usable
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller, DecryptedData, EncryptedData, KeyRecord
from gateway.hsm import asymutil
from gateway.hsm.mechanisms import KNOWN_SPECS, SpecMechanisms, build_table
from gateway.hsm.port import key_label
from gateway.hsm.port_asym import SignScheme

SIGN_VERIFY = "SIGN_VERIFY"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
MESSAGE_MAX_BYTES = 4096
# signing_algorithm -> (key family, scheme, hash)
SIGNING_ALGORITHMS: dict[str, tuple[str, str, str]] = {
    "RSASSA_PSS_SHA_256": ("rsa", "pss", "sha256"),
    "RSASSA_PSS_SHA_384": ("rsa", "pss", "sha384"),
    "RSASSA_PSS_SHA_512": ("rsa", "pss", "sha512"),
    "RSASSA_PKCS1_V1_5_SHA_256": ("rsa", "pkcs1", "sha256"),
    "RSASSA_PKCS1_V1_5_SHA_384": ("rsa", "pkcs1", "sha384"),
    "RSASSA_PKCS1_V1_5_SHA_512": ("rsa", "pkcs1", "sha512"),
    "ECDSA_SHA_256": ("ec", "ecdsa", "sha256"),
    "ECDSA_SHA_384": ("ec", "ecdsa", "sha384"),
    "ECDSA_SHA_512": ("ec", "ecdsa", "sha512"),
    "SM2DSA_SM3": ("sm2", "vendor", "sm3"),
}
DIGEST_BYTES = {"sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}
RSA_ENCRYPTION_ALGORITHMS = {"RSAES_OAEP_SHA_1": "sha1", "RSAES_OAEP_SHA_256": "sha256"}
FIELD_BYTES = {"EC_P256": 32, "EC_P384": 48, "SM2": 32}
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
    key_spec: str
    key_usage: str

    @property
    def pem(self) -> str:
        return asymutil.pem(self.der)


def family(key_spec: str) -> str:
    return "rsa" if key_spec.startswith("RSA_") else "ec" if key_spec.startswith("EC_") else key_spec.lower()


class AsymmetricOps(CoreBase):
    # -- key specs and their token objects (create-key calls these) ----------------------
    def mechanism_table(self) -> dict[str, SpecMechanisms]:
        table = self.__dict__.get("_mechanism_table")
        if table is None:
            table = self.__dict__["_mechanism_table"] = build_table(self.settings.mechanisms)
        return table

    async def _token_mechanisms(self) -> set[int]:
        found = self.__dict__.get("_token_mechanism_set")
        if found is None:  # C_GetMechanismList: the token's offer does not change while we run
            found = self.__dict__["_token_mechanism_set"] = await self.hsm.mechanisms()  # type: ignore[attr-defined]
        return found

    async def _check_key_spec(self, key_spec: str, key_usage: str, origin: str) -> str:
        """Validate spec, usage and origin for create-key; the effective key_usage."""
        if key_spec not in KNOWN_SPECS:
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"key_spec must be one of {', '.join(sorted(KNOWN_SPECS))}; got {key_spec!r}.",
            )
        fam = family(key_spec)
        symmetric = fam in ("aes_256", "sm4")
        key_usage = key_usage or (ENCRYPT_DECRYPT if symmetric else SIGN_VERIFY)
        if key_usage not in (ENCRYPT_DECRYPT, SIGN_VERIFY):
            raise KmsError(Err.INVALID_PARAMETER, "key_usage must be ENCRYPT_DECRYPT or SIGN_VERIFY.")
        if symmetric and key_usage != ENCRYPT_DECRYPT:
            raise KmsError(Err.KEY_USAGE_MISMATCH, "Symmetric keys support key_usage ENCRYPT_DECRYPT only.")
        if fam in ("ec", "sm2") and key_usage != SIGN_VERIFY:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"{key_spec} keys support key_usage SIGN_VERIFY only.")
        if origin == "external":
            if key_spec != "AES_256":
                raise KmsError(Err.UNSUPPORTED_ALGORITHM, "Only AES_256 keys can be imported (origin external).")
            return key_usage
        if key_spec == "AES_256":
            return key_usage  # the gateway's own key type: always there (token checked at start-up)
        spec = self.mechanism_table().get(key_spec)
        if spec is None:
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"key_spec {key_spec} needs vendor mechanisms this gateway has not been given "
                "(SoftHSM2 has no SM2/SM3/SM4): map them under [mechanisms] in the configuration, "
                "see docs/asymmetric.md.",
            )
        missing = spec.required() - await self._token_mechanisms()
        if missing:
            numbers = ", ".join(f"{m:#x}" for m in sorted(missing))
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"key_spec {key_spec} is not supported by this HSM: it lacks mechanism {numbers}.",
            )
        return key_usage

    def _check_sm4_data_path(self) -> None:
        """SM4 keys reach the data path (CKM_AES_GCM calls) only if the table says that is their cipher.

        A vendor SM4-GCM mechanism is not wired into the data path: such a key is refused with a 400
        before any token call, instead of failing in the token with a 500.
        """
        spec = self.mechanism_table().get("SM4")
        if spec is None or spec.cipher != int(Mechanism.AES_GCM):
            cipher = "none" if spec is None or spec.cipher is None else f"{spec.cipher:#x}"
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"SM4 data encryption (cipher {cipher}) is not wired into this gateway's data path; "
                "see docs/asymmetric.md.",
            )

    async def _generate_master_key(self, rec: KeyRecord) -> None:
        """The token object(s) of a new key; nothing for an external key (material comes later)."""
        if rec.origin == "external":
            return
        label = key_label(rec.key_id, rec.current_version)
        if rec.key_spec == "AES_256":
            await self.hsm.create_aes_key(label, rec.key_id)
            return
        spec = self.mechanism_table()[rec.key_spec]
        if not spec.asymmetric:
            await self.hsm.create_secret_key(label, rec.key_id, spec)  # type: ignore[attr-defined]
            return
        await self.hsm.create_key_pair(  # type: ignore[attr-defined]
            label,
            rec.key_id,
            spec,
            sign=rec.key_usage == SIGN_VERIFY,
            decrypt=rec.key_usage == ENCRYPT_DECRYPT,
        )

    # -- sign / verify / public key ------------------------------------------------------
    def _signing_key(self, caller: Caller, key_id: str, operation: str) -> KeyRecord:
        validate.key_id(key_id)
        rec = self._usable_key(caller, key_id, usage=SIGN_VERIFY, symmetric=False, operation=operation)
        if rec.key_type != 2:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} cannot sign.")
        return rec

    def _scheme(self, rec: KeyRecord, signing_algorithm: str, message: bytes, message_type: str) -> SignScheme:
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
        if message_type == "DIGEST" and len(message) != DIGEST_BYTES[hash_name]:
            raise KmsError(
                Err.INVALID_PARAMETER,
                f"A DIGEST message for {signing_algorithm} is the {DIGEST_BYTES[hash_name]}-byte "
                f"{hash_name.upper()} digest; got {len(message)} bytes.",
            )
        if fam == "sm2":
            if message_type != "DIGEST":
                raise KmsError(
                    Err.INVALID_PARAMETER, "SM2 keys sign digests only: SM3(Z(A) || M), message_type DIGEST."
                )
            spec = self.mechanism_table()["SM2"]
            return SignScheme("vendor", hash_name, False, FIELD_BYTES["SM2"], spec.sign)
        if fam == "ec":  # CKM_ECDSA signs a digest: hash a RAW message here (public data, no secret)
            return SignScheme(scheme, hash_name, False, FIELD_BYTES[rec.key_spec])
        return SignScheme(scheme, hash_name, message_type == "RAW")

    @staticmethod
    def _payload(scheme: SignScheme, message: bytes, message_type: str) -> bytes:
        if scheme.scheme == "ecdsa" and (message_type or "DIGEST") == "RAW":
            return hashlib.new(scheme.hash_name, message).digest()
        return message

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
        scheme = self._scheme(rec, signing_algorithm, message, message_type)
        label = key_label(rec.key_id, rec.current_version)
        sig = await self.hsm.sign(label, scheme, self._payload(scheme, message, message_type))  # type: ignore[attr-defined]
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
        scheme = self._scheme(rec, signing_algorithm, message, message_type)
        if not signature:
            raise KmsError(Err.MISSING_PARAMETER, "signature is required.")
        if len(signature) > 1024:
            return Verification(key_id=rec.key_id, signature_valid=False)
        label = key_label(rec.key_id, rec.current_version)
        payload = self._payload(scheme, message, message_type)
        ok = await self.hsm.verify(label, scheme, payload, signature)  # type: ignore[attr-defined]
        return Verification(key_id=rec.key_id, signature_valid=bool(ok))

    async def get_public_key(self, caller: Caller, key_id: str, *, sequence: str | None = None) -> PublicKey:
        validate.sequence(sequence)
        validate.key_id(key_id)
        rec = self._owned_key(caller, key_id, "get-publickey")
        require_usable(rec)
        if rec.key_type != 2:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} is symmetric: it has no public key.")
        return PublicKey(rec.key_id, await self._public_der(rec), rec.key_spec, rec.key_usage)

    async def _public_der(self, rec: KeyRecord) -> bytes:
        cache: dict[str, bytes] = self.__dict__.setdefault("_public_keys", {})
        label = key_label(rec.key_id, rec.current_version)
        der = cache.get(label)
        if der is None:
            der = await self.hsm.public_key_der(label)  # type: ignore[attr-defined]
            if len(cache) >= _PUBLIC_KEY_CACHE_MAX:
                cache.clear()
            cache[label] = der
        return der

    # -- RSA encrypt-data / decrypt-data (dispatched from data.py) -----------------------
    def _rsa_key(self, caller: Caller, key_id: str, algorithm: str, operation: str) -> tuple[KeyRecord, str]:
        hash_name = RSA_ENCRYPTION_ALGORITHMS.get(algorithm)
        if hash_name is None:
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"encryption_algorithm for RSA keys is RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256; got {algorithm!r}.",
            )
        validate.key_id(key_id)
        rec = self._usable_key(caller, key_id, usage=ENCRYPT_DECRYPT, symmetric=False, operation=operation)
        if family(rec.key_spec) != "rsa":
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"encryption_algorithm {algorithm} needs an RSA key.")
        return rec, hash_name

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
        k = self.mechanism_table()[rec.key_spec].bits // 8
        limit = asymutil.oaep_max_plaintext(k, hash_name)
        if not 1 <= len(plain_text) <= limit:
            raise KmsError(
                Err.INVALID_PARAMETER,
                f"plain_text must be 1 to {limit} bytes for {rec.key_spec} with {encryption_algorithm}.",
            )
        label = key_label(rec.key_id, rec.current_version)
        body = await self.hsm.rsa_encrypt(label, plain_text, hash_name)  # type: ignore[attr-defined]
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
        plain = await self.hsm.rsa_decrypt(label, cipher_text, hash_name)  # type: ignore[attr-defined]
        if plain is None:
            raise KmsError(Err.RSA_DECRYPT_FAILED)
        return DecryptedData(key_id=rec.key_id, plain_text=plain)


def _no_context(encryption_context: Mapping[str, str] | None, aad: str | None) -> None:
    if encryption_context or aad:
        raise KmsError(Err.INVALID_PARAMETER, "RSA encryption takes no encryption_context or additional data.")
