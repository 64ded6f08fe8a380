"""The session life cycle: login, the canary, healing after a fault, a fresh view of the objects.

Runs on the HSM executor thread only: python-pkcs11 initializes the library with
``C_Initialize(NULL)``, which tells SoftHSM2 to do no locking of its own, so PKCS#11 calls must
never overlap inside one process (docs/architecture.md, "Concurrency").

Handles die with the session: :attr:`HealingSession.epoch` moves whenever the session closes,
and every cache of handles (gateway/hsm/objects.py) drops itself when it sees a new epoch.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import TYPE_CHECKING

import pkcs11
from pkcs11 import Attribute, ObjectClass

from gateway.core.ports.hsm import RESERVED_LABEL_PREFIX
from gateway.hsm.faults import OPEN_RETRYABLE, TokenStorageMissing
from gateway.hsm.quirks import GENERIC, TokenQuirks, quirks_for

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library

log = logging.getLogger(__name__)

RANDOM_CHUNK = 4096  # one C_GenerateRandom serves many IVs and data keys
# A token data object that must always be found: when a search cannot see it, the token's storage is
# gone and "no such key" would be a wrong answer, not a fault. Created on the first open of a process.
CANARY_LABEL = RESERVED_LABEL_PREFIX + "canary"


class HealingSession:
    """One logged-in R/W session on the configured token that rebuilds itself after a fault."""

    def __init__(self, module: str, token_label: str, pin: str, quirks: TokenQuirks | None = None) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._given_quirks = quirks
        self.quirks = quirks or GENERIC  # replaced by the token's own record at the first login
        self._lib: Pkcs11Library | None = None
        self._session: pkcs11.Session | None = None
        self._random = bytearray()
        self.epoch = 0  # moves whenever the session opens or closes: older handles are dead
        self.owner_thread: int | None = None
        self.heals = 0
        self.refreshes = 0  # re-reads of the token's object list (refresh_objects)

    # -- login and logout ---------------------------------------------------------------
    def open(self, attempts: int = 5) -> None:
        """Log in. Retried: a process starting while another logs in can read SoftHSM2's token
        file half-written and see no token or a general error for a moment."""
        self.owner_thread = threading.get_ident()
        self.epoch += 1
        for attempt in range(attempts):
            try:
                self._lib = pkcs11.lib(self._module)
                token = self._lib.get_token(token_label=self._token_label)
                self._session = token.open(rw=True, user_pin=self._pin)
                if self._given_quirks is None:
                    self.quirks = quirks_for(token.manufacturer_id, token.model, token.firmware_version)
                return
            except OPEN_RETRYABLE:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)  # noqa: S311 - jitter only
                # Measured on SoftHSM2: 4 of 150 concurrent logins failed for good without the
                # re-initialization, none with it. No session of this process exists yet here.
                if self.quirks.reinit_on_login_miss and self._lib is not None and self._session is None:
                    self._lib.reinitialize()

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.close()
            except pkcs11.PKCS11Error:
                pass
        self._session = None  # session objects (the copies) die with the session
        self.epoch += 1
        self._random.clear()

    @property
    def session(self) -> pkcs11.Session:
        if self._session is None:  # a heal failed earlier: one quick try, the executor backs off
            self.open(attempts=1)
        assert self._session is not None
        return self._session

    def reinitialize_library(self) -> None:
        """C_Finalize (when initialized) + C_Initialize: every handle of this process dies."""
        if self._lib is not None:
            self._lib.reinitialize()

    # -- the canary: "nothing found" is believed only while the storage is visible ------------
    def ensure_canary(self) -> None:
        """Create the canary object unless the token has one (first open of a process only: after
        a fault, a missing canary means missing storage, and must not be papered over)."""
        if self.quirks.canary and not self._canary_present():
            self.session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.LABEL: CANARY_LABEL,
                    Attribute.APPLICATION: "kmsgw",
                    Attribute.VALUE: b"kmsgw canary",
                }
            )

    def _canary_present(self) -> bool:
        template = {Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.LABEL: CANARY_LABEL}
        return any(True for _ in self.session.get_objects(template))

    def verify_storage(self) -> None:
        """Raise :class:`TokenStorageMissing` unless the token's objects are visible."""
        if self.quirks.canary and not self._canary_present():
            raise TokenStorageMissing()

    def probe(self) -> None:
        """One cheap round trip to the token (not served from the RNG cache) and the storage check."""
        self.session.generate_random(64)
        self.verify_storage()

    # -- after a fault ----------------------------------------------------------------------
    def heal(self) -> None:
        """Rebuild after a session or token fault: new session, then a library re-init if needed.

        Every cached handle and session copy is dropped (the epoch moves) and rebuilt on next use.
        Raises when the token still does not answer: the caller reports the fault.
        """
        self.heals += 1
        self.close()
        try:
            self.open(attempts=2)
            self.probe()  # proves the new session works and the token's objects are visible
            return
        except pkcs11.PKCS11Error as exc:
            log.warning("hsm session reopen failed; reinitializing library", extra={"error": type(exc).__name__})
        self.close()
        self.reinitialize_library()
        self.open(attempts=2)
        self.probe()

    def refresh_objects(self) -> None:
        """See the token's objects afresh: library re-initialized, session and login reopened.

        SoftHSM2's file store learns of objects other processes made or destroyed from a change
        counter on disk, but a process that writes an object itself adopts the counter's current
        value, so changes other processes made just before go unnoticed: that process answers "no
        such object" for a key another process created, and lists a stale set, until the library is
        initialized again. Cost: about 50 µs per token object (a full re-index), on a miss or a
        listing only; every cached handle and session copy is dropped. A no-op for tokens whose
        quirks say their object list needs no refresh.
        """
        if not self.quirks.refresh_object_list:
            return
        self.refreshes += 1
        self.close()
        self.reinitialize_library()
        self.open(attempts=2)

    # -- the token's RNG and mechanism list --------------------------------------------------
    def random(self, nbytes: int) -> bytes:
        """Bytes from the token's RNG, drawn in chunks so many small draws cost one call."""
        if nbytes > len(self._random):
            need = max(RANDOM_CHUNK, nbytes - len(self._random))
            self._random += self.session.generate_random(need * 8)
        out = bytes(self._random[:nbytes])
        del self._random[:nbytes]
        return out

    def drop_random(self) -> None:
        """Forget the drawn-ahead bytes: the next draw reaches the token."""
        self._random.clear()

    def mechanisms(self) -> set[int]:
        return {int(m) for m in self.session.token.slot.get_mechanisms()}
