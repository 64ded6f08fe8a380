"""python-pkcs11 session wrapper. Every method runs on the HSM executor thread only.

DESIGN.md fact 1: python-pkcs11 initializes SoftHSM2 without locking, so PKCS#11 calls
must never overlap inside one process. This class is therefore not thread-safe on
purpose; :class:`gateway.hsm.executor.HsmExecutor` is its only caller.
"""

from __future__ import annotations

import logging
import threading
import uuid

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    DataLenRange,
    DeviceError,
    DeviceRemoved,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    GeneralError,
    NoSuchKey,
    ObjectHandleInvalid,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
)
from pkcs11.mechanisms import GCMParams

log = logging.getLogger(__name__)

GCM_IV_BYTES = 12
GCM_TAG_BITS = 128
RANDOM_CHUNK = 4096  # one C_GenerateRandom serves many IVs and data keys

# Errors after which the session (or the library) is presumed broken and must be rebuilt.
SESSION_FAULTS: tuple[type[Exception], ...] = (
    SessionHandleInvalid,
    SessionClosed,
    DeviceError,
    DeviceRemoved,
    GeneralError,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
    ObjectHandleInvalid,
)
# What a GCM decryption of a forged or corrupted blob may raise, depending on the module.
AUTH_FAILURES: tuple[type[Exception], ...] = (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    DataLenRange,
    GeneralError,
    FunctionFailed,
)

MASTER_KEY_TEMPLATE = {
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
    Attribute.MODIFIABLE: False,
}


class TokenSession:
    """One logged-in R/W session on the configured token, with cached object handles."""

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._lib: pkcs11.lib | None = None
        self._session: pkcs11.Session | None = None
        self._keys: dict[str, pkcs11.SecretKey] = {}
        self._random = bytearray()
        self.owner_thread: int | None = None
        self.heals = 0

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> None:
        self.owner_thread = threading.get_ident()
        self._lib = pkcs11.lib(self._module)
        token = self._lib.get_token(token_label=self._token_label)
        self._session = token.open(rw=True, user_pin=self._pin)
        self._keys.clear()

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.close()
            except pkcs11.PKCS11Error:
                pass
        self._session = None
        self._keys.clear()
        self._random.clear()

    def heal(self) -> None:
        """Rebuild after a session or token fault: new session, then a library re-init if needed."""
        self.heals += 1
        self.close()
        try:
            self.open()
            self.random(8)  # proves the new session works
            return
        except pkcs11.PKCS11Error as exc:
            log.warning("hsm session reopen failed; reinitializing library", extra={"error": type(exc).__name__})
        assert self._lib is not None
        self._lib.reinitialize()
        self.open()

    @property
    def session(self) -> pkcs11.Session:
        if self._session is None:
            self.open()
        assert self._session is not None
        return self._session

    # -- objects ----------------------------------------------------------------------
    def secret_key(self, label: str) -> pkcs11.SecretKey:
        key = self._keys.get(label)
        if key is None:
            key = self.session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
            self._keys[label] = key
        return key

    def has_key(self, label: str) -> bool:
        try:
            self.secret_key(label)
            return True
        except NoSuchKey:
            return False

    def generate_aes_key(self, label: str, key_id: str | None = None) -> None:
        template = dict(MASTER_KEY_TEMPLATE)
        if key_id:
            template[Attribute.ID] = uuid.UUID(key_id).bytes
        key = self.session.generate_key(KeyType.AES, 256, label=label, store=True, template=template)
        self._keys[label] = key

    def destroy(self, label: str) -> bool:
        """Destroy every object with this label; True if one existed."""
        found = False
        for obj in list(self.session.get_objects({Attribute.LABEL: label})):
            obj.destroy()
            found = True
        self._keys.pop(label, None)
        return found

    def secret_key_labels(self) -> list[str]:
        objs = self.session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
        return [o[Attribute.LABEL] for o in objs]

    def mechanisms(self) -> set[int]:
        return {int(m) for m in self.session.token.slot.get_mechanisms()}

    # -- crypto -----------------------------------------------------------------------
    def random(self, nbytes: int) -> bytes:
        """Bytes from the token's RNG, drawn in chunks so many small draws cost one call."""
        if nbytes > len(self._random):
            need = max(RANDOM_CHUNK, nbytes - len(self._random))
            self._random += self.session.generate_random(need * 8)
        out = bytes(self._random[:nbytes])
        del self._random[:nbytes]
        return out

    def gcm_seal(self, label: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """AES-256-GCM inside the token with a fresh 96-bit IV from the token RNG: (iv, ct||tag)."""
        iv = self.random(GCM_IV_BYTES)
        ct = self.secret_key(label).encrypt(
            plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, aad, GCM_TAG_BITS)
        )
        return iv, ct

    def gcm_open(self, label: str, iv: bytes, ct: bytes, aad: bytes) -> bytes | None:
        """Plaintext, or None when the tag does not verify (forged or corrupted input)."""
        key = self.secret_key(label)
        try:
            return key.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, aad, GCM_TAG_BITS))
        except AUTH_FAILURES:
            # SoftHSM2 reports a bad tag as CKR_GENERAL_ERROR: tell it apart from a broken
            # session by checking that the session still answers.
            self.session.generate_random(64)
            return None
