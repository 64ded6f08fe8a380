"""The asymmetric and key-import jobs of the HSM port (mixed into :class:`Pkcs11Hsm`).

The core names what it wants (a key label, a signing scheme, an OAEP hash); this module turns
that into PKCS#11 mechanisms and runs it as one job on the executor, like the rest of the port.
"""

from __future__ import annotations

from dataclasses import dataclass

from pkcs11 import MGF, Mechanism
from pkcs11.exceptions import NoSuchKey

from gateway.core.errors import Err, KmsError
from gateway.hsm import asymutil
from gateway.hsm import mechanisms as mech_table
from gateway.hsm.executor import HsmExecutor
from gateway.hsm.mechanisms import SpecMechanisms
from gateway.hsm.token import ImportRejected, TokenSession


@dataclass(frozen=True)
class SignScheme:
    """What to ask of the token for one signing_algorithm (chosen by the core, run here)."""

    scheme: str  # pss | pkcs1 | ecdsa | vendor
    hash_name: str  # sha256 | sha384 | sha512 | sm3
    raw: bool  # True: ``data`` is the message (the token hashes, RSA only); False: a digest
    field_bytes: int = 0  # ECDSA / vendor: width of r and s
    vendor_mechanism: int | None = None  # vendor: the table's raw-digest signature mechanism


_RSA_HASHED = {
    ("pkcs1", "sha256"): Mechanism.SHA256_RSA_PKCS,
    ("pkcs1", "sha384"): Mechanism.SHA384_RSA_PKCS,
    ("pkcs1", "sha512"): Mechanism.SHA512_RSA_PKCS,
    ("pss", "sha256"): Mechanism.SHA256_RSA_PKCS_PSS,
    ("pss", "sha384"): Mechanism.SHA384_RSA_PKCS_PSS,
    ("pss", "sha512"): Mechanism.SHA512_RSA_PKCS_PSS,
}
_PSS_PARAMS = {
    "sha256": (Mechanism.SHA256, MGF.SHA256, 32),
    "sha384": (Mechanism.SHA384, MGF.SHA384, 48),
    "sha512": (Mechanism.SHA512, MGF.SHA512, 64),
}


def sign_mechanism(s: SignScheme, data: bytes) -> tuple[Mechanism, object, bytes]:
    """(mechanism, parameter, input) for C_Sign/C_Verify. PSS salt = hash length, MGF1 = same hash."""
    if s.scheme in ("pkcs1", "pss") and s.raw:
        param = _PSS_PARAMS[s.hash_name] if s.scheme == "pss" else None
        return _RSA_HASHED[(s.scheme, s.hash_name)], param, data
    if s.scheme == "pkcs1":
        return Mechanism.RSA_PKCS, None, asymutil.DIGEST_INFO[s.hash_name] + data
    if s.scheme == "pss":
        return Mechanism.RSA_PKCS_PSS, _PSS_PARAMS[s.hash_name], data
    if s.scheme == "ecdsa":
        return Mechanism.ECDSA, None, data
    assert s.vendor_mechanism is not None
    return mech_table.mechanism(s.vendor_mechanism), None, data


class AsymmetricHsm:
    """The asymmetric and import jobs of :class:`Pkcs11Hsm` (mixed in below)."""

    executor: HsmExecutor

    async def mechanisms(self) -> set[int]:
        return await self.executor.run(TokenSession.mechanisms, "mechanisms")

    async def create_key_pair(
        self, label: str, key_id: str, spec: SpecMechanisms, *, sign: bool, decrypt: bool, unwrap: bool = False
    ) -> None:
        await self.executor.run(
            lambda t: t.generate_key_pair(label, key_id, spec, sign=sign, decrypt=decrypt, unwrap=unwrap),
            "generate_key_pair",
        )

    async def create_secret_key(self, label: str, key_id: str, spec: SpecMechanisms) -> None:
        await self.executor.run(lambda t: t.generate_secret_key(label, key_id, spec), "generate_key")

    async def private_key_labels(self) -> list[str]:
        return await self.executor.run(TokenSession.private_key_labels, "list_objects")

    async def public_key_der(self, label: str) -> bytes:
        return await self.executor.run(lambda t: t.public_key_der(label), "public_key")

    async def sign(self, label: str, scheme: SignScheme, data: bytes) -> bytes:
        """The signature as verifiers expect it: PKCS#1 octets for RSA, DER for ECDSA/SM2."""

        def job(t: TokenSession) -> bytes:
            mech, param, payload = sign_mechanism(scheme, data)
            sig = t.sign(label, mech, param, payload)
            return asymutil.ecdsa_raw_to_der(sig) if scheme.scheme in ("ecdsa", "vendor") else sig

        return await self.executor.run(job, "sign")

    async def verify(self, label: str, scheme: SignScheme, data: bytes, signature: bytes) -> bool:
        if scheme.scheme in ("ecdsa", "vendor"):
            raw = asymutil.ecdsa_der_to_raw(signature, scheme.field_bytes)
            if raw is None:
                return False
            signature = raw

        def job(t: TokenSession) -> bool:
            mech, param, payload = sign_mechanism(scheme, data)
            return t.verify(label, mech, param, payload, signature)

        return await self.executor.run(job, "verify")

    async def rsa_encrypt(self, label: str, plaintext: bytes, hash_name: str) -> bytes:
        return await self.executor.run(lambda t: t.rsa_encrypt(label, plaintext, hash_name), "rsa_encrypt")

    async def rsa_decrypt(self, label: str, ciphertext: bytes, hash_name: str) -> bytes | None:
        return await self.executor.run(lambda t: t.rsa_decrypt(label, ciphertext, hash_name), "rsa_decrypt")

    async def modulus_bytes(self, label: str) -> int:
        return await self.executor.run(lambda t: t.modulus_bytes(label), "public_key")

    async def oaep_supported(self, hash_name: str) -> bool:
        return await self.executor.run(lambda t: t.oaep_supported(hash_name), "probe")

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
        """Unwrap imported material into the token object ``label``; its key check value, or KmsError."""

        def job(t: TokenSession) -> bytes:
            try:
                return t.unwrap_aes_key(
                    wrap_label,
                    label,
                    key_id,
                    wrapped,
                    hash_name,
                    software_oaep=software_oaep,
                    expected_kcv=expected_kcv,
                )
            except ImportRejected as exc:
                raise KmsError(*_IMPORT_ERRORS[exc.reason]) from None
            except NoSuchKey:  # the wrapping key is gone (swept at expiry)
                raise KmsError(Err.IMPORT_TOKEN_EXPIRED) from None

        return await self.executor.run(job, "unwrap_key")


_IMPORT_ERRORS: dict[str, tuple[Err, str]] = {
    "decrypt": (Err.RSA_DECRYPT_FAILED, "encrypted_key_material does not decrypt under this import's wrapping key."),
    "length": (Err.IMPORT_MATERIAL_LENGTH, "The imported key material must be exactly 32 bytes (AES-256)."),
    "mismatch": (Err.IMPORT_MATERIAL_MISMATCH, ""),
    "unsupported": (
        Err.UNSUPPORTED_ALGORITHM,
        "This token cannot unwrap with this OAEP hash; see docs/asymmetric.md (software_oaep_unwrap).",
    ),
}
_IMPORT_ERRORS = {k: (e, m or e.message) for k, (e, m) in _IMPORT_ERRORS.items()}
