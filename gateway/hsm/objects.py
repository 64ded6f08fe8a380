"""Token objects by label: cached handles, session copies of master keys, searches and destruction.

A search that finds nothing is re-checked on a fresh view of the token (another process may have
made the object unseen by us) and believed only while the canary is visible; anything else is a
fault, never an answer (gateway/hsm/session.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pkcs11
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import NoSuchKey
from pkcs11.types import DecryptMixin, EncryptMixin, SignMixin, UnwrapMixin, VerifyMixin

from gateway.core.ports.hsm import RESERVED_LABEL_PREFIX
from gateway.hsm.faults import COPY_REFUSED
from gateway.hsm.session import HealingSession

COPY_PREFIX = RESERVED_LABEL_PREFIX + "copy:"  # session copies of token keys: never a master key label
MAX_SESSION_COPIES = 4096


# Typing views of python-pkcs11's key objects, whose classes it assembles at run time from the
# capability mixins the object has; used only with ``cast``.
class CipherKey(pkcs11.SecretKey, EncryptMixin, DecryptMixin):
    """A secret key that encrypts and decrypts (a master key, a session copy)."""


class PrivateKeyOps(pkcs11.PrivateKey, SignMixin, DecryptMixin, UnwrapMixin):
    """The private half of a key pair: signs, decrypts (RSA) or unwraps (import wrapping keys)."""


class PublicKeyOps(pkcs11.PublicKey, VerifyMixin, EncryptMixin):
    """The public half of a key pair: verifies, encrypts (RSA)."""


def whole(output: bytes | Iterator[bytes]) -> bytes:
    """The output of a one-shot C_Encrypt / C_Decrypt / C_Sign (python-pkcs11 types it as maybe a stream)."""
    if not isinstance(output, bytes):
        raise TypeError("expected the whole output of a one-shot call")
    return output


class TokenObjects:
    def __init__(self, link: HealingSession) -> None:
        self._link = link
        self._epoch = link.epoch
        # handles by label; the halves of a key pair share their label, so under "priv:" / "pub:"
        self._handles: dict[str, pkcs11.Key] = {}
        self._copies: dict[str, CipherKey] = {}  # label -> session copy (or the object itself)

    def _current(self) -> None:
        """Drop every handle of a session that has since closed."""
        if self._epoch != self._link.epoch:
            self._handles.clear()
            self._copies.clear()
            self._epoch = self._link.epoch

    # -- lookups -------------------------------------------------------------------------
    def secret_key(self, label: str) -> CipherKey:
        return cast(CipherKey, self._cached(label, ObjectClass.SECRET_KEY, label))

    def private_key(self, label: str) -> PrivateKeyOps:
        return cast(PrivateKeyOps, self._cached("priv:" + label, ObjectClass.PRIVATE_KEY, label))

    def public_key(self, label: str) -> PublicKeyOps:
        return cast(PublicKeyOps, self._cached("pub:" + label, ObjectClass.PUBLIC_KEY, label))

    def _cached(self, slot: str, object_class: ObjectClass, label: str) -> pkcs11.Key:
        self._current()
        key = self._handles.get(slot)
        if key is None:
            key = self._find(object_class, label)
            self._current()  # the search may have refreshed the session: cache under the new one
            self._handles[slot] = key
        return key

    def _find(self, object_class: ObjectClass, label: str) -> pkcs11.Key:
        """The token object of this class and label; NoSuchKey only while the storage is visible."""
        try:
            return self._link.session.get_key(object_class=object_class, label=label)
        except NoSuchKey:
            self._link.refresh_objects()  # another process may have made it unseen by us: look once more
        try:
            return self._link.session.get_key(object_class=object_class, label=label)
        except NoSuchKey:
            self._link.verify_storage()
            raise

    def has_key(self, label: str) -> bool:
        try:
            self.secret_key(label)
            return True
        except NoSuchKey:
            return False

    def remember(self, label: str, key: pkcs11.Key, half: str = "") -> None:
        """Cache the handle of an object just made (``half``: "priv" / "pub" for a key pair)."""
        self._current()
        self._handles[f"{half}:{label}" if half else label] = key

    # -- the hot path's session copies ------------------------------------------------------
    def crypto_key(self, label: str) -> CipherKey:
        """A session copy of a token key, for the hot path (see TokenQuirks.session_copies).

        The copy keeps the original's attributes (sensitive, never extractable), lives only as long
        as this session, and is labelled under the reserved copy prefix so searches by the key's
        label never see it. Staleness is not a risk: the core checks key state in the store before
        every use, and re-imported material must equal what was deleted (KMS.2606).
        """
        self._current()
        key = self._copies.get(label)
        if key is None:
            if len(self._copies) >= MAX_SESSION_COPIES:
                for old in self._copies.values():
                    if not old[Attribute.TOKEN]:
                        old.destroy()
                self._copies.clear()
            token_key = self.secret_key(label)
            key = token_key
            if self._link.quirks.session_copies:
                try:
                    key = cast(
                        CipherKey, token_key.copy({Attribute.TOKEN: False, Attribute.LABEL: COPY_PREFIX + label})
                    )
                except COPY_REFUSED:
                    pass  # a token or key that refuses copies: use the object itself
            self._copies[label] = key
        return key

    def copy_labels(self) -> set[str]:
        """Labels of the keys that have a session copy now."""
        self._current()
        return set(self._copies)

    def forget_copy(self, label: str) -> None:
        self._current()
        self._copies.pop(label, None)

    # -- listing and destruction -------------------------------------------------------------
    def labels(self, object_class: ObjectClass) -> list[str]:
        """Labels of the token objects of a class; raises rather than list a token it cannot see.
        Always from a fresh view: this process's own writes may hide others'."""
        self._link.refresh_objects()
        self._link.verify_storage()
        found = self._link.session.get_objects({Attribute.CLASS: object_class, Attribute.TOKEN: True})
        labels = [str(o[Attribute.LABEL]) for o in found]
        self._link.verify_storage()
        return labels

    def destroy(self, label: str) -> bool:
        """Destroy every object with this label; True if one existed."""
        found = False
        objects = list(self._link.session.get_objects({Attribute.LABEL: label}))
        if not objects:  # made by another process unseen by us?
            self._link.refresh_objects()
            objects = list(self._link.session.get_objects({Attribute.LABEL: label}))
        for obj in objects:
            obj.destroy()
            found = True
        self._current()
        for slot in (label, "priv:" + label, "pub:" + label):
            self._handles.pop(slot, None)
        copy = self._copies.pop(label, None)
        if copy is not None and not copy[Attribute.TOKEN]:
            copy.destroy()
        if not found:
            self._link.verify_storage()  # "nothing to destroy" must not hide objects we cannot see
        return found
