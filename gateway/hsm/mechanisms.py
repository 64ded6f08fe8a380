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

See docs/asymmetric.md. Nothing here talks to the token: this module only builds the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pkcs11 import KeyType, Mechanism

SM2_CURVE_OID = "1.2.156.10197.1.301"
_FIELDS = ("key_type", "keygen", "sign", "cipher", "bits", "curve")


@dataclass(frozen=True)
class SpecMechanisms:
    """How one key spec is made and used on the token."""

    key_spec: str
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
BUILTIN: dict[str, SpecMechanisms] = {
    "AES_256": SpecMechanisms("AES_256", "aes", _CKK_AES, int(Mechanism.AES_KEY_GEN), bits=256),
    "RSA_2048": SpecMechanisms("RSA_2048", "rsa", _CKK_RSA, int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), bits=2048),
    "RSA_3072": SpecMechanisms("RSA_3072", "rsa", _CKK_RSA, int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), bits=3072),
    "RSA_4096": SpecMechanisms("RSA_4096", "rsa", _CKK_RSA, int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), bits=4096),
    "EC_P256": SpecMechanisms("EC_P256", "ec", _CKK_EC, int(Mechanism.EC_KEY_PAIR_GEN), curve="secp256r1"),
    "EC_P384": SpecMechanisms("EC_P384", "ec", _CKK_EC, int(Mechanism.EC_KEY_PAIR_GEN), curve="secp384r1"),
}
# Specs the API knows but only a configured vendor table can provide.
VENDOR_SPECS: dict[str, str] = {"SM4": "sm4", "SM2": "sm2"}
KNOWN_SPECS = frozenset(BUILTIN) | frozenset(VENDOR_SPECS)


def build_table(extra: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, SpecMechanisms]:
    """The built-in table with configuration entries laid over it (new specs or changed numbers).

    A configuration error (unknown spec or field, missing number) raises ValueError at start-up,
    never at request time.
    """
    table = dict(BUILTIN)
    for spec, fields in (extra or {}).items():
        if spec not in KNOWN_SPECS:
            raise ValueError(f"mechanisms: unknown key spec {spec!r}; expected one of {sorted(KNOWN_SPECS)}")
        if not isinstance(fields, Mapping):
            raise ValueError(f"mechanisms.{spec} must be a table of mechanism numbers")
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise ValueError(f"mechanisms.{spec}: unknown field(s) {sorted(unknown)}; expected {list(_FIELDS)}")
        for name in ("key_type", "keygen", "sign", "cipher", "bits"):
            value = fields.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"mechanisms.{spec}.{name} must be a non-negative integer (e.g. 0x80000001)")
        base = table.get(spec)
        if base is None:
            family = VENDOR_SPECS[spec]
            missing = [n for n in ("key_type", "keygen") if fields.get(n) is None]
            if family == "sm2" and fields.get("sign") is None:
                missing.append("sign")
            if missing:
                raise ValueError(f"mechanisms.{spec}: missing {missing}")
            base = SpecMechanisms(
                spec,
                family,
                key_type=int(fields["key_type"]),  # type: ignore[call-overload]
                keygen=int(fields["keygen"]),  # type: ignore[call-overload]
                bits=128 if family == "sm4" else 0,
                curve=SM2_CURVE_OID if family == "sm2" else "",
            )
        table[spec] = replace(base, **{k: v for k, v in fields.items() if v is not None})  # type: ignore[arg-type]
    return table


def mechanism(number: int) -> Mechanism:
    """A ``Mechanism`` for any number: python-pkcs11 accepts only enum members, vendor ones included."""
    try:
        return Mechanism(number)
    except ValueError:
        return _pseudo(Mechanism, number)


def key_type(number: int) -> KeyType:
    try:
        return KeyType(number)
    except ValueError:
        return _pseudo(KeyType, number)


def _pseudo(enum_cls, number: int):  # type: ignore[no-untyped-def]
    member = int.__new__(enum_cls, number)
    member._name_ = f"VENDOR_{number:#x}"
    member._value_ = number
    return member
