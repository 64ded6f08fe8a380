"""Key specs to PKCS#11 mechanisms: a built-in table that configuration can extend.

The gateway never assumes a mechanism exists: at create-key it checks the spec's mechanisms
against the token's own list (C_GetMechanismList). SoftHSM2 offers AES, RSA and EC but no
SM2/SM3/SM4 (SoftHSM2 2.6, docs/architecture.md), so SM2 and SM4 have no built-in entry; a token that has them
(vendor mechanism numbers, CKM_VENDOR_DEFINED and up) gets them from the configuration:

    [mechanisms.SM4]
    key_type = 0x80000001   # CKK_ of the vendor's SM4 keys
    keygen   = 0x80000002   # CKM_ SM4 key generation
    cipher   = 0x80000006   # CKM_ of SM4 data encryption (data path: see docs/asymmetric.md)

    [mechanisms.SM2]
    key_type = 0x80000003   # CKK_ of SM2 key pairs
    keygen   = 0x80000004   # CKM_ SM2 key-pair generation
    sign     = 0x80000005   # CKM_ SM2 signature over a 32-byte SM3 digest (raw r||s out)
    curve    = "1.2.156.10197.1.301"  # CKA_EC_PARAMS named curve (default: the SM2 curve)

See docs/asymmetric.md. Nothing here talks to the token: this module builds the table and maps the
core's signing schemes and OAEP hashes to mechanisms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any, TypeVar

from pkcs11 import MGF, KeyType, Mechanism

from gateway.core.model import KeySpec
from gateway.core.ports.hsm import SignatureScheme, SignScheme
from gateway.hsm import asymutil

SM2_CURVE_OID = "1.2.156.10197.1.301"
_FIELDS = ("key_type", "keygen", "sign", "cipher", "bits", "curve")
_E = TypeVar("_E", bound=IntEnum)


@dataclass(frozen=True)
class SpecMechanisms:
    """How one key spec is made and used on the token."""

    key_spec: KeySpec
    family: str  # aes | rsa | ec | sm4 | sm2
    key_type: int  # CKK_*
    keygen: int  # CKM_* for C_GenerateKey / C_GenerateKeyPair
    bits: int = 0  # AES key or RSA modulus bits
    curve: str = ""  # EC / SM2: named-curve OID or asn1crypto name for CKA_EC_PARAMS
    sign: int | None = None  # SM2: the raw-digest signature mechanism
    cipher: int | None = None  # SM4: the data-path cipher; only CKM_AES_GCM is wired (docs/asymmetric.md)

    @property
    def asymmetric(self) -> bool:
        return self.family in ("rsa", "ec", "sm2")

    @property
    def gcm_data_path(self) -> bool:
        """Keys of this spec seal with AES-GCM, the only cipher of the data path."""
        return self.family == "aes" or self.cipher == int(Mechanism.AES_GCM)

    def required(self) -> set[int]:
        """Mechanisms the token must list for this spec to be offered."""
        out = {self.keygen}
        if self.sign is not None:
            out.add(self.sign)
        if self.cipher is not None:
            out.add(self.cipher)
        if self.family == "ec":
            out.add(int(Mechanism.ECDSA))
        return out


_CKK_AES, _CKK_RSA, _CKK_EC = int(KeyType.AES), int(KeyType.RSA), int(KeyType.EC)
_RSA_GEN, _EC_GEN = int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), int(Mechanism.EC_KEY_PAIR_GEN)
BUILTIN: dict[KeySpec, SpecMechanisms] = {
    KeySpec.AES_256: SpecMechanisms(KeySpec.AES_256, "aes", _CKK_AES, int(Mechanism.AES_KEY_GEN), bits=256),
    KeySpec.RSA_2048: SpecMechanisms(KeySpec.RSA_2048, "rsa", _CKK_RSA, _RSA_GEN, bits=2048),
    KeySpec.RSA_3072: SpecMechanisms(KeySpec.RSA_3072, "rsa", _CKK_RSA, _RSA_GEN, bits=3072),
    KeySpec.RSA_4096: SpecMechanisms(KeySpec.RSA_4096, "rsa", _CKK_RSA, _RSA_GEN, bits=4096),
    KeySpec.EC_P256: SpecMechanisms(KeySpec.EC_P256, "ec", _CKK_EC, _EC_GEN, curve="secp256r1"),
    KeySpec.EC_P384: SpecMechanisms(KeySpec.EC_P384, "ec", _CKK_EC, _EC_GEN, curve="secp384r1"),
}
# Specs the API knows but only a configured vendor table can provide.
VENDOR_SPECS: dict[KeySpec, str] = {KeySpec.SM4: "sm4", KeySpec.SM2: "sm2"}
KNOWN_SPECS = frozenset(BUILTIN) | frozenset(VENDOR_SPECS)
assert KNOWN_SPECS == frozenset(KeySpec), "every key spec has a built-in entry or a vendor family"
WRAPPING_KEY = BUILTIN[KeySpec.RSA_2048]  # the key pairs that unwrap imported material


def build_table(extra: Mapping[str, Mapping[str, object]] | None = None) -> dict[KeySpec, SpecMechanisms]:
    """The built-in table with configuration entries laid over it (new specs or changed numbers).

    A configuration error (unknown spec or field, missing number) raises ValueError at start-up,
    never at request time.
    """
    table = dict(BUILTIN)
    for name, fields in (extra or {}).items():
        if name not in KNOWN_SPECS:
            raise ValueError(f"mechanisms: unknown key spec {name!r}; expected one of {sorted(KNOWN_SPECS)}")
        spec = KeySpec(name)
        if not isinstance(fields, Mapping):
            raise ValueError(f"mechanisms.{spec} must be a table of mechanism numbers")
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise ValueError(f"mechanisms.{spec}: unknown field(s) {sorted(unknown)}; expected {list(_FIELDS)}")
        numbers: dict[str, int] = {}
        for field_name in ("key_type", "keygen", "sign", "cipher", "bits"):
            value = fields.get(field_name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"mechanisms.{spec}.{field_name} must be a non-negative integer (e.g. 0x80000001)")
            numbers[field_name] = value
        base = table.get(spec)
        if base is None:
            family = VENDOR_SPECS[spec]
            missing = [n for n in ("key_type", "keygen") if n not in numbers]
            if family == "sm2" and "sign" not in numbers:
                missing.append("sign")
            if missing:
                raise ValueError(f"mechanisms.{spec}: missing {missing}")
            base = SpecMechanisms(
                spec,
                family,
                key_type=numbers["key_type"],
                keygen=numbers["keygen"],
                bits=128 if family == "sm4" else 0,
                curve=SM2_CURVE_OID if family == "sm2" else "",
            )
        changes: dict[str, Any] = dict(numbers)
        if fields.get("curve") is not None:
            changes["curve"] = str(fields["curve"])
        table[spec] = replace(base, **changes)
    return table


def mechanism(number: int) -> Mechanism:
    """A ``Mechanism`` for any number: python-pkcs11 accepts only enum members, vendor ones included."""
    return _member(Mechanism, number)


def key_type(number: int) -> KeyType:
    return _member(KeyType, number)


def _member(enum_cls: type[_E], number: int) -> _E:
    try:
        return enum_cls(number)
    except ValueError:
        member = int.__new__(enum_cls, number)
        member._name_ = f"VENDOR_{number:#x}"
        member._value_ = number
        return member


# -- signing schemes and OAEP hashes as mechanisms --------------------------------------------
_RSA_HASHED = {
    (SignatureScheme.PKCS1, "sha256"): Mechanism.SHA256_RSA_PKCS,
    (SignatureScheme.PKCS1, "sha384"): Mechanism.SHA384_RSA_PKCS,
    (SignatureScheme.PKCS1, "sha512"): Mechanism.SHA512_RSA_PKCS,
    (SignatureScheme.PSS, "sha256"): Mechanism.SHA256_RSA_PKCS_PSS,
    (SignatureScheme.PSS, "sha384"): Mechanism.SHA384_RSA_PKCS_PSS,
    (SignatureScheme.PSS, "sha512"): Mechanism.SHA512_RSA_PKCS_PSS,
}
_PSS_PARAMS = {
    "sha256": (Mechanism.SHA256, MGF.SHA256, 32),
    "sha384": (Mechanism.SHA384, MGF.SHA384, 48),
    "sha512": (Mechanism.SHA512, MGF.SHA512, 64),
}
_OAEP_PARAMS = {
    "sha1": (Mechanism.SHA_1, MGF.SHA1, None),
    "sha256": (Mechanism.SHA256, MGF.SHA256, None),
}


def sign_mechanism(
    s: SignScheme, data: bytes, table: Mapping[KeySpec, SpecMechanisms]
) -> tuple[Mechanism, object, bytes]:
    """(mechanism, parameter, input) for C_Sign/C_Verify. PSS salt = hash length, MGF1 = same hash."""
    rsa = s.scheme in (SignatureScheme.PKCS1, SignatureScheme.PSS)
    if rsa and s.raw:
        param = _PSS_PARAMS[s.hash_name] if s.scheme == SignatureScheme.PSS else None
        return _RSA_HASHED[(s.scheme, s.hash_name)], param, data
    if s.scheme == SignatureScheme.PKCS1:
        return Mechanism.RSA_PKCS, None, asymutil.DIGEST_INFO[s.hash_name] + data
    if s.scheme == SignatureScheme.PSS:
        return Mechanism.RSA_PKCS_PSS, _PSS_PARAMS[s.hash_name], data
    if s.scheme == SignatureScheme.ECDSA:
        return Mechanism.ECDSA, None, data
    vendor = table[KeySpec.SM2].sign  # a configured SM2 entry always has one (build_table)
    assert vendor is not None
    return mechanism(vendor), None, data


def oaep_params(hash_name: str) -> tuple[Mechanism, MGF, None]:
    return _OAEP_PARAMS[hash_name]
