"""Imported key material (BYOK) enters the token: C_UnwrapKey with RSA-OAEP, then checks.

With CKM_RSA_PKCS_OAEP the material never leaves the token. Only when the token lacks the OAEP
hash and the configuration allows software OAEP does the raw RSA block come out for OAEP decoding
here, the material then entering by C_CreateObject (docs/asymmetric.md).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, cast

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.constants import MechanismFlag

from gateway.core.ports.hsm import ImportRejection, MaterialRejected
from gateway.hsm import asymutil
from gateway.hsm.asymmetric import AsymmetricKeys
from gateway.hsm.faults import DIGEST_REFUSED, NOT_AN_AES_KEY, RSA_FAILURES, VALUE_LEN_UNREADABLE
from gateway.hsm.mechanisms import oaep_params
from gateway.hsm.objects import CipherKey, PrivateKeyOps, TokenObjects, whole
from gateway.hsm.session import HealingSession
from gateway.hsm.symmetric import KCV_BLOCK, master_key_template

log = logging.getLogger(__name__)

MATERIAL_BYTES = 32
LENGTH_PROBE = b"kmsgw length probe"
UNKNOWN_LENGTH = -1


class KeyUnwrapper:
    def __init__(self, link: HealingSession, objects: TokenObjects, asymmetric: AsymmetricKeys) -> None:
        self._link = link
        self._objects = objects
        self._asymmetric = asymmetric

    def unwrap_aes_key(
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
        """Unwrap 32 bytes of AES material as a sensitive, non-extractable token object ``label``.

        Returns the key check value (AES-ECB of a fixed block, computed by the token); raises
        :class:`MaterialRejected`.
        """
        self._objects.destroy(label)  # a leftover of a crash between an unwrap and its store update
        priv = self._objects.private_key(wrap_label)
        k = self._asymmetric.modulus_bytes(wrap_label)
        if len(wrapped) != k:
            raise MaterialRejected(ImportRejection.DECRYPT)
        template = master_key_template(key_id)
        template[Attribute.LABEL] = label
        if self._asymmetric.oaep_supported(hash_name):
            oaep: Any = oaep_params(hash_name)  # python-pkcs11's stub says bytes; OAEP takes this tuple
            try:
                unwrapped = priv.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.AES,
                    wrapped,
                    label=label,
                    store=True,
                    capabilities=MechanismFlag(0),
                    mechanism=Mechanism.RSA_PKCS_OAEP,
                    mechanism_param=oaep,
                    template=template,
                )
            except RSA_FAILURES as exc:
                self._link.session.generate_random(64)  # a bad block, not a broken session
                raise MaterialRejected(ImportRejection.DECRYPT) from exc
            key = cast(CipherKey, unwrapped)
            length = self.secret_length(key)
        elif software_oaep:
            key = self._create_by_software_oaep(priv, wrapped, k, hash_name, template)
            length = MATERIAL_BYTES
        else:
            raise MaterialRejected(ImportRejection.UNSUPPORTED)
        try:
            if length not in (MATERIAL_BYTES, UNKNOWN_LENGTH):
                raise MaterialRejected(ImportRejection.LENGTH)
            try:
                kcv = whole(key.encrypt(KCV_BLOCK, mechanism=Mechanism.AES_ECB))
            except NOT_AN_AES_KEY as exc:
                raise MaterialRejected(ImportRejection.LENGTH) from exc  # not a valid AES key length at all
            if expected_kcv is not None and not hmac.compare_digest(kcv, expected_kcv):
                raise MaterialRejected(ImportRejection.MISMATCH)
        except BaseException:
            key.destroy()
            raise
        if length == UNKNOWN_LENGTH:
            log.warning("token reports no key length and refuses C_DigestKey: 16/24-byte imports not refused")
        self._objects.remember(label, key)
        return kcv

    def _create_by_software_oaep(
        self, priv: PrivateKeyOps, wrapped: bytes, k: int, hash_name: str, template: dict[Attribute, Any]
    ) -> CipherKey:
        """The raw RSA step in the token, OAEP decoding here, the material in by C_CreateObject."""
        try:
            em = whole(priv.decrypt(wrapped, mechanism=Mechanism.RSA_X_509))
        except RSA_FAILURES as exc:
            self._link.session.generate_random(64)
            raise MaterialRejected(ImportRejection.DECRYPT) from exc
        material = asymutil.oaep_decode(em, k, hash_name)
        del em
        if material is None:
            raise MaterialRejected(ImportRejection.DECRYPT)
        if len(material) != MATERIAL_BYTES:
            raise MaterialRejected(ImportRejection.LENGTH)
        template[Attribute.CLASS] = ObjectClass.SECRET_KEY
        template[Attribute.KEY_TYPE] = KeyType.AES
        template[Attribute.VALUE] = material
        key = self._link.session.create_object(template)
        del material, template
        return cast(CipherKey, key)

    def secret_length(self, key: CipherKey) -> int:
        """The byte length of a secret key object without reading it; UNKNOWN_LENGTH when the token
        cannot tell.

        CKA_VALUE_LEN when the token reports it. SoftHSM2 leaves it 0 on unwrapped keys, so then:
        the token digests K and K || pad(32) || probe; the second equals the SHA-256 length
        extension of the first exactly when K is 32 bytes long.
        """
        try:
            reported = int(key[Attribute.VALUE_LEN] or 0)
        except VALUE_LEN_UNREADABLE:
            reported = 0
        if reported:
            return reported
        session = self._link.session
        try:
            whole = session.digest(key, mechanism=Mechanism.SHA256)
            parts: list[bytes | pkcs11.Key] = [key, asymutil.sha256_padding(MATERIAL_BYTES) + LENGTH_PROBE]
            extended = session.digest(iter(parts), mechanism=Mechanism.SHA256)
        except DIGEST_REFUSED:
            return UNKNOWN_LENGTH
        expected = asymutil.sha256_extend(whole, MATERIAL_BYTES, LENGTH_PROBE)
        return MATERIAL_BYTES if hmac.compare_digest(extended, expected) else 0
