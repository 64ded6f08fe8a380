"""The mechanisms ``bench p11`` measures: how each is named, checked, keyed and called.

A mechanism is named ``family[:param]`` on the command line (``aes-gcm``, ``rsa-pss:3072``,
``ecdsa:p384``). Each family says which PKCS#11 mechanisms the token must list, in which unit the
token states key-size bounds, whether the payload sweep applies, how keys are made (session
objects by default, token objects with ``--keys token``, or found with ``--keys existing:LABEL``)
and what one timed operation is. ``AUTO`` is what the gateway itself calls on its token.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

AAD = b"kmsgw-bench"  # a small AAD, as an encryption context would be
AUTO = ("aes-gcm:256", "random", "rsa-pss:2048", "ecdsa:p256", "rsa-oaep:2048", "unwrap:2048")
EC_CURVES = {"p256": ("secp256r1", 256, 32), "p384": ("secp384r1", 384, 48), "p521": ("secp521r1", 521, 64)}
DIGEST = bytes(range(32))

Op = Callable[[], None]


class Unsupported(Exception):
    """The token cannot run this cell; the message is the reason shown as ``skipped``."""


class WrongAnswer(Exception):
    """The token answered, but not with what the operation must return."""


@dataclass(frozen=True)
class MechSpec:
    family: str
    param: str

    @property
    def name(self) -> str:
        return f"{self.family}:{self.param}" if self.param else self.family


@dataclass(frozen=True)
class Need:
    mechanism: int
    bits: int | None = None  # key size to check against the mechanism's bounds
    unit: str = "bits"  # the unit the token states bounds in for this mechanism ("bytes" for AES, HMAC)
    keygen: bool = False  # only needed to make the measured key (not with --keys existing)


@dataclass
class KeyPlan:
    """Where a worker gets its keys: make session objects, make/find token objects, or find existing ones."""

    mode: str  # "session" | "token" | "existing"
    label: str  # token: the run's label for this mechanism; existing: the user's label
    create: bool  # token mode: this worker creates (worker 0), the others find


class Family:
    name = ""
    default = ""
    uses_payload = True

    def parse(self, param: str) -> str:
        return param or self.default

    def key_name(self, param: str) -> str:
        return ""

    def needs(self, param: str) -> list[Need]:
        raise NotImplementedError

    def payload_reason(self, param: str, payload: int) -> str | None:
        return None

    def fixed_payload(self, param: str) -> int:
        return len(DIGEST)

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        raise NotImplementedError

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        raise NotImplementedError


def _bits(param: str, what: str) -> int:
    if not param.isdigit() or not 0 < int(param) <= 65536:
        raise ValueError(f"{what}: key size must be a number of bits, not {param!r}")
    return int(param)


def _secret(session: Any, key_type: Any, bits: int, plan: KeyPlan, caps: Any) -> Any:
    from pkcs11 import Attribute, ObjectClass

    if plan.mode == "existing" or (plan.mode == "token" and not plan.create):
        return session.get_key(label=plan.label, key_type=key_type, object_class=ObjectClass.SECRET_KEY)
    store = plan.mode == "token"
    template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
    label = plan.label if store else None
    return session.generate_key(key_type, bits, label=label, store=store, template=template, capabilities=caps)


def _pair(session: Any, key_type: Any, bits: int | None, plan: KeyPlan, curve: str = "") -> dict[str, Any]:
    from pkcs11 import Attribute, ObjectClass

    if plan.mode == "existing" or (plan.mode == "token" and not plan.create):
        private = session.get_key(label=plan.label, key_type=key_type, object_class=ObjectClass.PRIVATE_KEY)
        public = session.get_key(label=plan.label, key_type=key_type, object_class=ObjectClass.PUBLIC_KEY)
        return {"private": private, "public": public}
    store = plan.mode == "token"
    public_template: dict[Any, Any] = {}
    if curve:
        from pkcs11.util.ec import encode_named_curve_parameters

        public_template[Attribute.EC_PARAMS] = encode_named_curve_parameters(curve)
    public, private = session.generate_keypair(
        key_type, bits, store=store, label=plan.label if store else None, public_template=public_template,
        private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
    )  # fmt: skip
    return {"private": private, "public": public}


class AesGcm(Family):
    name, default = "aes-gcm", "256"

    def parse(self, param: str) -> str:
        return str(_bits(param or self.default, self.name))

    def key_name(self, param: str) -> str:
        return f"AES-{param}"

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        return [Need(int(Mechanism.AES_GCM), int(param), "bytes"), Need(int(Mechanism.AES_KEY_GEN), keygen=True)]

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType, MechanismFlag

        caps = MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
        return {"secret": _secret(session, KeyType.AES, int(param), plan, caps)}

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        key, data, expect = keys["secret"], os.urandom(payload), payload + 16
        nonces, pos = b"", 0

        def op() -> None:
            nonlocal nonces, pos
            if pos >= len(nonces):  # fresh random 96-bit nonces, drawn in bulk
                nonces, pos = os.urandom(12 * 4096), 0
            nonce = nonces[pos : pos + 12]
            pos += 12
            out = key.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, AAD, 128))
            if len(out) != expect:
                raise WrongAnswer(f"AES-GCM returned {len(out)} bytes for {payload}")

        return op


class AesKwp(Family):
    name, default = "aes-kwp", "256"

    def parse(self, param: str) -> str:
        return str(_bits(param or self.default, self.name))

    def key_name(self, param: str) -> str:
        return f"AES-{param}"

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        return [
            Need(int(Mechanism.AES_KEY_WRAP_PAD)),
            Need(int(Mechanism.AES_KEY_GEN), int(param), "bytes", keygen=True),
            Need(int(Mechanism.GENERIC_SECRET_KEY_GEN)),
        ]

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType, MechanismFlag

        caps = MechanismFlag.WRAP | MechanismFlag.UNWRAP
        return {"secret": _secret(session, KeyType.AES, int(param), plan, caps)}

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        """C_WrapKey (RFC 5649 padding) of an extractable session secret of ``payload`` bytes."""
        from pkcs11 import Attribute, KeyType, Mechanism

        target = session.generate_key(
            KeyType.GENERIC_SECRET, payload * 8, store=False,
            template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False, Attribute.VALUE_LEN: payload},
        )  # fmt: skip
        keys.setdefault("_made", []).append(target)
        key = keys["secret"]

        def op() -> None:
            key.wrap_key(target, mechanism=Mechanism.AES_KEY_WRAP_PAD)

        return op


class Hmac(Family):
    name, default = "hmac-sha256", "256"

    def parse(self, param: str) -> str:
        return str(_bits(param or self.default, self.name))

    def key_name(self, param: str) -> str:
        return f"generic-{param}"

    def needs(self, param: str) -> list[Need]:
        from pkcs11 import Mechanism

        return [
            Need(int(Mechanism.SHA256_HMAC), int(param), "bytes"),
            Need(int(Mechanism.GENERIC_SECRET_KEY_GEN), keygen=True),
        ]

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        from pkcs11 import KeyType, MechanismFlag

        caps = MechanismFlag.SIGN | MechanismFlag.VERIFY
        return {"secret": _secret(session, KeyType.GENERIC_SECRET, int(param), plan, caps)}

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        from pkcs11 import Mechanism

        key, data = keys["secret"], os.urandom(payload)

        def op() -> None:
            key.sign(data, mechanism=Mechanism.SHA256_HMAC)

        return op


class Random(Family):
    name, default = "random", ""

    def parse(self, param: str) -> str:
        if param:
            raise ValueError("random takes no parameter")
        return ""

    def needs(self, param: str) -> list[Need]:
        return []

    def keys(self, session: Any, param: str, plan: KeyPlan) -> dict[str, Any]:
        return {}

    def operation(self, session: Any, keys: dict[str, Any], param: str, payload: int) -> Op:
        bits = payload * 8

        def op() -> None:
            session.generate_random(bits)

        return op
