"""Key pairs inside the token: generation, public keys, C_Sign / C_Verify, RSAES-OAEP.

Key pairs carry one label on both objects (``<key_id>:v1``); the private half is sensitive and never
extractable. Where the token's OAEP lacks a hash (TokenQuirks.oaep_hashes, or a probe), the RSA
operation still runs in the token as CKM_RSA_X_509 and only the padding is done here.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.constants import MechanismFlag
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from gateway.hsm import asymutil
from gateway.hsm import mechanisms as mech_table
from gateway.hsm.faults import OAEP_REFUSED, RSA_FAILURES, VERIFY_FAILURES
from gateway.hsm.mechanisms import SpecMechanisms, oaep_params
from gateway.hsm.objects import PublicKeyOps, TokenObjects, whole
from gateway.hsm.session import HealingSession


class AsymmetricKeys:
    def __init__(self, link: HealingSession, objects: TokenObjects) -> None:
        self._link = link
        self._objects = objects
        self._oaep_probes: dict[str, bool] = {}  # hash -> the token's OAEP takes it (probed once)

    def generate_key_pair(
        self, label: str, key_id: str, spec: SpecMechanisms, *, sign: bool, decrypt: bool, unwrap: bool = False
    ) -> None:
        """A token key pair: the private half sensitive and never extractable, both halves labelled."""
        public: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.MODIFIABLE: False,
            Attribute.VERIFY: sign,
            Attribute.ENCRYPT: decrypt,
            Attribute.WRAP: False,
        }
        private: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.MODIFIABLE: False,
            Attribute.SIGN: sign,
            Attribute.DECRYPT: decrypt or unwrap,  # unwrap keys decrypt raw RSA for software OAEP
            Attribute.UNWRAP: unwrap,
            Attribute.DERIVE: False,
        }
        bits = None
        if spec.family == "rsa":
            bits = spec.bits
            public[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
        else:
            public[Attribute.EC_PARAMS] = encode_named_curve_parameters(spec.curve)
        pub, priv = self._link.session.generate_keypair(
            mech_table.key_type(spec.key_type),
            bits,
            id=uuid.UUID(key_id).bytes,
            label=label,
            store=True,
            capabilities=MechanismFlag(0),  # every capability comes from the templates
            mechanism=mech_table.mechanism(spec.keygen),
            public_template=public,
            private_template=private,
        )
        self._objects.remember(label, pub, "pub")
        self._objects.remember(label, priv, "priv")

    def public_key_der(self, label: str) -> bytes:
        """The DER SubjectPublicKeyInfo of a key pair (RSA, or EC-style: EC_PARAMS + EC_POINT)."""
        pub = self._objects.public_key(label)
        if int(pub.key_type) == int(KeyType.RSA):
            return asymutil.rsa_spki(pub[Attribute.MODULUS], pub[Attribute.PUBLIC_EXPONENT])
        return encode_ec_public_key(pub)

    def modulus_bytes(self, label: str) -> int:
        return len(self._objects.public_key(label)[Attribute.MODULUS])

    def sign(self, label: str, mech: Mechanism, param: object, data: bytes) -> bytes:
        return self._objects.private_key(label).sign(data, mechanism=mech, mechanism_param=param)

    def verify(self, label: str, mech: Mechanism, param: object, data: bytes, signature: bytes) -> bool:
        try:
            return self._objects.public_key(label).verify(data, signature, mechanism=mech, mechanism_param=param)
        except VERIFY_FAILURES:
            return False

    # -- RSAES-OAEP -----------------------------------------------------------------------
    def oaep_supported(self, hash_name: str) -> bool:
        """Whether CKM_RSA_PKCS_OAEP takes this hash: from the token's quirks, else probed once."""
        known = self._link.quirks.oaep_hashes
        if known is not None:
            return hash_name in known
        if hash_name not in self._oaep_probes:
            self._oaep_probes[hash_name] = self._probe_oaep(hash_name)
        return self._oaep_probes[hash_name]

    def _probe_oaep(self, hash_name: str) -> bool:
        pub, priv = self._link.session.generate_keypair(
            KeyType.RSA,
            1024,
            store=False,
            capabilities=MechanismFlag(0),
            public_template={Attribute.ENCRYPT: True},
            private_template={Attribute.DECRYPT: True},
        )
        try:
            cast(PublicKeyOps, pub).encrypt(
                b"probe", mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=oaep_params(hash_name)
            )
            return True
        except OAEP_REFUSED:
            return False
        finally:
            pub.destroy()
            priv.destroy()

    def rsa_encrypt(self, label: str, plaintext: bytes, hash_name: str) -> bytes:
        """RSAES-OAEP with the public key object (raw RSA + OAEP padding here if the token lacks the hash)."""
        pub = self._objects.public_key(label)
        if self.oaep_supported(hash_name):
            return whole(
                pub.encrypt(plaintext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=oaep_params(hash_name))
            )
        k = self.modulus_bytes(label)
        em = asymutil.oaep_encode(plaintext, k, hash_name, self._link.random(asymutil.HASH_LEN[hash_name]))
        return whole(pub.encrypt(em, mechanism=Mechanism.RSA_X_509))

    def rsa_decrypt(self, label: str, ciphertext: bytes, hash_name: str) -> bytes | None:
        """RSAES-OAEP decryption by the private key object; None for any undecryptable input."""
        priv = self._objects.private_key(label)
        k = self.modulus_bytes(label)
        if len(ciphertext) != k:
            return None
        try:
            if self.oaep_supported(hash_name):
                params = oaep_params(hash_name)
                return whole(priv.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params))
            em = whole(priv.decrypt(ciphertext, mechanism=Mechanism.RSA_X_509))
        except RSA_FAILURES:
            self._link.session.generate_random(64)  # a bad block, not a broken session (see gcm_open)
            return None
        return asymutil.oaep_decode(em, k, hash_name)
