"""Private-key mechanisms: RSA-PSS and ECDSA signatures, RSA-OAEP decryption and unwrap.

Each times the private-key side (the one an HSM is bought for); the public-key side runs once at
set-up to make what the timed call consumes. RSA-OAEP prefers SHA-256 and falls back to SHA-1 when
the token refuses it (SoftHSM2 2.6 does OAEP with SHA-1 only); the hash used is in the report.
"""

from __future__ import annotations

import os
from typing import Any

from gateway.bench.p11.mechanisms import DIGEST, EC_CURVES, Family, KeyPlan, Need, Op, Unsupported, _bits, _pair


class RsaPss(Family):
    name, default, uses_payload = "rsa-pss", "2048", False

    def parse(self, param: str) -> str:
        return str(_bits(param or self.default, self.name))

    def key_name(self, param: str) -> str:
        return f"RSA-{param}"

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        return [Need(int(Mechanism.RSA_PKCS_PSS), int(param)), Need(int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), keygen=True)]

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType

        return _pair(session, KeyType.RSA, int(param), plan)

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        from pkcs11 import MGF, Mechanism

        key, params = keys["private"], (Mechanism.SHA256, MGF.SHA256, 32)

        def op() -> None:
            key.sign(DIGEST, mechanism=Mechanism.RSA_PKCS_PSS, mechanism_param=params)

        return op


class Ecdsa(Family):
    name, default, uses_payload = "ecdsa", "p256", False

    def parse(self, param: str) -> str:
        param = (param or self.default).lower().replace("-", "")
        if param not in EC_CURVES:
            raise ValueError(f"ecdsa: curve must be one of {', '.join(EC_CURVES)}, not {param!r}")
        return param

    def key_name(self, param: str) -> str:
        return f"P-{EC_CURVES[param][1]}"

    def fixed_payload(self, param: str) -> int:
        return EC_CURVES[param][2]

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        bits = EC_CURVES[param][1]
        return [Need(int(Mechanism.ECDSA), bits), Need(int(Mechanism.EC_KEY_PAIR_GEN), bits, keygen=True)]

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType

        return _pair(session, KeyType.EC, None, plan, curve=EC_CURVES[param][0])

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        from pkcs11 import Mechanism

        key, digest = keys["private"], os.urandom(EC_CURVES[param][2])

        def op() -> None:
            key.sign(digest, mechanism=Mechanism.ECDSA)

        return op


def _oaep(session: Any, keys: dict[str, Any]) -> tuple[Any, str]:
    """OAEP parameters the token accepts: SHA-256 if it can, else SHA-1 (remembered per key pair)."""
    from pkcs11 import MGF, Mechanism, PKCS11Error

    if "_oaep" in keys:
        return keys["_oaep"]
    for params, name in (((Mechanism.SHA256, MGF.SHA256, None), "sha256"), ((Mechanism.SHA_1, MGF.SHA1, None), "sha1")):
        try:
            block = keys["public"].encrypt(b"probe", mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
            keys["private"].decrypt(block, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
        except PKCS11Error:
            continue
        keys["_oaep"] = (params, name)
        return params, name
    raise Unsupported("the token refuses RSA-OAEP with SHA-256 and with SHA-1")


def oaep_limit(bits: int, hash_bytes: int) -> int:
    return bits // 8 - 2 * hash_bytes - 2


class RsaOaep(Family):
    name, default = "rsa-oaep", "2048"

    def parse(self, param: str) -> str:
        return str(_bits(param or self.default, self.name))

    def key_name(self, param: str) -> str:
        return f"RSA-{param}"

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        return [Need(int(Mechanism.RSA_PKCS_OAEP), int(param)), Need(int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), keygen=True)]

    def payload_reason(self, param: str, payload: int) -> str | None:
        limit = oaep_limit(int(param), 20)  # SHA-1's limit, the larger of the two
        if payload > limit:
            return f"payload {payload} B exceeds RSA-{param} OAEP's limit ({limit} B with SHA-1)"
        return None

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType

        return _pair(session, KeyType.RSA, int(param), plan)

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        """C_Decrypt of one OAEP block (what the gateway's asymmetric decrypt asks of the token)."""
        from pkcs11 import Mechanism

        params, hash_name = _oaep(session, keys)
        limit = oaep_limit(int(param), 32 if hash_name == "sha256" else 20)
        if payload > limit:
            raise Unsupported(f"payload {payload} B exceeds RSA-{param} OAEP-{hash_name.upper()}'s limit ({limit} B)")
        data = os.urandom(payload)
        block = keys["public"].encrypt(data, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
        key = keys["private"]
        keys["_note"] = f"OAEP-{hash_name.upper()}"

        def op() -> None:
            key.decrypt(block, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)

        return op


class Unwrap(Family):
    """C_UnwrapKey of an AES-256 key under RSA-OAEP, as the gateway's key import does; the unwrapped
    session object is destroyed in the same timed step (C_UnwrapKey + C_DestroyObject)."""

    name, default, uses_payload = "unwrap", "2048", False

    def parse(self, param: str) -> str:
        return str(_bits(param or self.default, self.name))

    def key_name(self, param: str) -> str:
        return f"RSA-{param}"

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        return [Need(int(Mechanism.RSA_PKCS_OAEP), int(param)), Need(int(Mechanism.RSA_PKCS_KEY_PAIR_GEN), keygen=True)]

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType

        return _pair(session, KeyType.RSA, int(param), plan)

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

        params, hash_name = _oaep(session, keys)
        wrapped = keys["public"].encrypt(os.urandom(32), mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
        key, template = keys["private"], {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
        keys["_note"] = f"OAEP-{hash_name.upper()}, AES-256 unwrapped and destroyed per operation"

        def op() -> None:
            made = key.unwrap_key(
                ObjectClass.SECRET_KEY, KeyType.AES, wrapped, mechanism=Mechanism.RSA_PKCS_OAEP,
                mechanism_param=params, store=False, template=template,
            )  # fmt: skip
            made.destroy()

        return op
