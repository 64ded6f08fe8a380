"""Secret master keys and AES-256-GCM inside the token: generation, seal, open, key check value."""

from __future__ import annotations

import uuid
from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.constants import MechanismFlag
from pkcs11.mechanisms import GCMParams

from gateway.hsm import mechanisms as mech_table
from gateway.hsm.faults import AMBIGUOUS_AUTH_FAILURES, AUTH_FAILURES
from gateway.hsm.mechanisms import SpecMechanisms
from gateway.hsm.objects import TokenObjects, whole
from gateway.hsm.session import HealingSession

GCM_IV_BYTES = 12
GCM_TAG_BITS = 128
KCV_BLOCK = b"kmsgw key check\x00"  # AES-ECB of this block by the key is its check value

MASTER_KEY_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ENCRYPT: True,
    Attribute.DECRYPT: True,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.SIGN: False,
    Attribute.VERIFY: False,
    Attribute.DERIVE: False,
    # CKA_MODIFIABLE stays true: SoftHSM2 refuses C_CopyObject (the session copies) of a
    # non-modifiable key, and what matters cannot be undone anyway: PKCS#11 forbids turning
    # CKA_SENSITIVE off or CKA_EXTRACTABLE on (tests/hsm/test_token_objects.py checks it).
}


def master_key_template(key_id: str | None) -> dict[Attribute, Any]:
    template = dict(MASTER_KEY_TEMPLATE)
    if key_id:
        template[Attribute.ID] = uuid.UUID(key_id).bytes
    return template


class SymmetricKeys:
    def __init__(self, link: HealingSession, objects: TokenObjects) -> None:
        self._link = link
        self._objects = objects

    def generate_aes_key(self, label: str, key_id: str | None = None) -> None:
        key = self._link.session.generate_key(
            KeyType.AES, 256, label=label, store=True, template=master_key_template(key_id)
        )
        self._objects.remember(label, key)

    def generate_secret_key(self, label: str, key_id: str, spec: SpecMechanisms) -> None:
        """A symmetric master key made by the spec's table entry (vendor SM4, or AES by table)."""
        key = self._link.session.generate_key(
            mech_table.key_type(spec.key_type),
            spec.bits or None,
            label=label,
            store=True,
            capabilities=MechanismFlag(0),  # every capability comes from the template (vendor key types too)
            mechanism=mech_table.mechanism(spec.keygen),
            template=master_key_template(key_id),
        )
        self._objects.remember(label, key)

    def gcm_seal(self, label: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """AES-256-GCM inside the token with a fresh 96-bit IV from the token RNG: (iv, ct||tag)."""
        iv = self._link.random(GCM_IV_BYTES)
        key = self._objects.crypto_key(label)
        params = GCMParams(iv, aad, GCM_TAG_BITS)
        return iv, whole(key.encrypt(plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=params))

    def gcm_open(self, label: str, iv: bytes, body: bytes, aad: bytes) -> bytes | None:
        """Plaintext, or None when the tag does not verify (forged or corrupted input)."""
        key = self._objects.crypto_key(label)
        params = GCMParams(iv, aad, GCM_TAG_BITS)
        try:
            return whole(key.decrypt(body, mechanism=Mechanism.AES_GCM, mechanism_param=params))
        except AUTH_FAILURES + AMBIGUOUS_AUTH_FAILURES as exc:
            if isinstance(exc, AMBIGUOUS_AUTH_FAILURES) and not self._link.quirks.bad_tag_is_general_error:
                raise
            # Tell a bad blob apart from a broken session: the session must still answer (a session
            # fault raised here heals it).
            self._link.session.generate_random(64)
            return None
