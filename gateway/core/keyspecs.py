"""Key-spec rules in one place: families, usages and origins a spec allows, sizes, what may rotate.

Whether the token can actually make a spec is the HSM port's answer (:class:`KeySpecPolicy` asks it);
everything here that needs no token is plain functions and tables.
"""

from __future__ import annotations

import enum

from gateway.core.errors import Err, KmsError
from gateway.core.model import KeyRecord, KeySpec, KeyUsage, Origin
from gateway.core.ports.hsm import HsmPort


class KeyFamily(enum.StrEnum):
    AES = "aes"
    SM4 = "sm4"
    RSA = "rsa"
    EC = "ec"
    SM2 = "sm2"


FAMILIES: dict[KeySpec, KeyFamily] = {
    KeySpec.AES_256: KeyFamily.AES,
    KeySpec.SM4: KeyFamily.SM4,
    KeySpec.RSA_2048: KeyFamily.RSA,
    KeySpec.RSA_3072: KeyFamily.RSA,
    KeySpec.RSA_4096: KeyFamily.RSA,
    KeySpec.EC_P256: KeyFamily.EC,
    KeySpec.EC_P384: KeyFamily.EC,
    KeySpec.SM2: KeyFamily.SM2,
}
SYMMETRIC_SPECS = frozenset({KeySpec.AES_256, KeySpec.SM4})
SIGN_ONLY_FAMILIES = frozenset({KeyFamily.EC, KeyFamily.SM2})
RSA_MODULUS_BYTES = {KeySpec.RSA_2048: 256, KeySpec.RSA_3072: 384, KeySpec.RSA_4096: 512}
FIELD_BYTES = {KeySpec.EC_P256: 32, KeySpec.EC_P384: 48, KeySpec.SM2: 32}  # width of r and s
HASH_BYTES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}


def family(spec: KeySpec) -> KeyFamily:
    return FAMILIES[spec]


def is_symmetric(spec: KeySpec) -> bool:
    return spec in SYMMETRIC_SPECS


def oaep_max_plaintext(spec: KeySpec, hash_name: str) -> int:
    """Longest message RSAES-OAEP fits in the spec's modulus: k - 2*hLen - 2."""
    return RSA_MODULUS_BYTES[spec] - 2 * HASH_BYTES[hash_name] - 2


def rotatable(rec: KeyRecord) -> bool:
    """Only symmetric keys whose material the gateway generated rotate."""
    return rec.origin == Origin.KMS and rec.key_spec == KeySpec.AES_256 and rec.key_usage == KeyUsage.ENCRYPT_DECRYPT


def parse_origin(origin: str) -> Origin:
    if origin not in (Origin.KMS, Origin.EXTERNAL):
        raise KmsError(Err.INVALID_PARAMETER, "origin must be kms or external.")
    return Origin(origin)


def parse_spec_and_usage(key_spec: str, key_usage: str) -> tuple[KeySpec, KeyUsage]:
    """create-key's spec and usage (usage defaults by family), checked against each other."""
    if key_spec not in FAMILIES:
        raise KmsError(
            Err.UNSUPPORTED_ALGORITHM,
            f"key_spec must be one of {', '.join(sorted(KeySpec))}; got {key_spec!r}.",
        )
    spec = KeySpec(key_spec)
    symmetric = is_symmetric(spec)
    key_usage = key_usage or (KeyUsage.ENCRYPT_DECRYPT if symmetric else KeyUsage.SIGN_VERIFY)
    if key_usage not in (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY):
        raise KmsError(Err.INVALID_PARAMETER, "key_usage must be ENCRYPT_DECRYPT or SIGN_VERIFY.")
    usage = KeyUsage(key_usage)
    if symmetric and usage != KeyUsage.ENCRYPT_DECRYPT:
        raise KmsError(Err.KEY_USAGE_MISMATCH, "Symmetric keys support key_usage ENCRYPT_DECRYPT only.")
    if family(spec) in SIGN_ONLY_FAMILIES and usage != KeyUsage.SIGN_VERIFY:
        raise KmsError(Err.KEY_USAGE_MISMATCH, f"{spec} keys support key_usage SIGN_VERIFY only.")
    return spec, usage


class KeySpecPolicy:
    """The spec rules that need the token: can it make this spec, may the data path use it."""

    def __init__(self, hsm: HsmPort) -> None:
        self._hsm = hsm

    async def check_creatable(self, spec: KeySpec, origin: Origin) -> None:
        """A clean UNSUPPORTED_ALGORITHM for a spec this gateway or its token cannot make."""
        if origin == Origin.EXTERNAL:
            if spec != KeySpec.AES_256:
                raise KmsError(Err.UNSUPPORTED_ALGORITHM, "Only AES_256 keys can be imported (origin external).")
            return
        if spec == KeySpec.AES_256:
            return  # the gateway's own key type: always there (the token was checked at start-up)
        support = await self._hsm.spec_support(spec)
        if not support.configured:
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"key_spec {spec} needs vendor mechanisms this gateway has not been given "
                "(SoftHSM2 has no SM2/SM3/SM4): map them under [mechanisms] in the configuration, "
                "see docs/asymmetric.md.",
            )
        if support.missing_mechanisms:
            numbers = ", ".join(f"{m:#x}" for m in support.missing_mechanisms)
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"key_spec {spec} is not supported by this HSM: it lacks mechanism {numbers}.",
            )

    def check_data_path(self, spec: KeySpec) -> None:
        """SM4 keys reach the data path (AES-GCM calls) only if their configured cipher is AES-GCM.

        A vendor SM4-GCM mechanism is not wired into the data path: such a key is refused with a 400
        before any token call, instead of failing in the token with a 500.
        """
        if spec != KeySpec.SM4:
            return
        cipher = self._hsm.data_cipher(spec)
        if not cipher.gcm:
            shown = "none" if cipher.mechanism is None else f"{cipher.mechanism:#x}"
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"SM4 data encryption (cipher {shown}) is not wired into this gateway's data path; "
                "see docs/asymmetric.md.",
            )
