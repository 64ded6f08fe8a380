"""The token as HSM executor jobs see it: one healing session and the operations over it.

Each concern lives in its own module and is reached through an attribute here:

- ``link`` (gateway/hsm/session.py): login, canary, healing, object-list refresh, RNG, quirks;
- ``objects`` (objects.py): cached handles, session copies, searches, listing, destruction;
- ``symmetric`` (symmetric.py): secret master keys, AES-256-GCM seal and open;
- ``asymmetric`` (asymmetric.py): key pairs, sign / verify, public keys, RSAES-OAEP;
- ``unwrapper`` (unwrap.py): imported material by C_UnwrapKey.

Not thread-safe on purpose: PKCS#11 calls must never overlap inside one process
(docs/architecture.md, "Concurrency"), so :class:`gateway.hsm.executor.HsmExecutor` is the only
caller, on its one thread (and a CLI command that logs in alone, with no executor running).
"""

from __future__ import annotations

import pkcs11
from pkcs11 import ObjectClass

from gateway.hsm.asymmetric import AsymmetricKeys
from gateway.hsm.objects import TokenObjects
from gateway.hsm.quirks import TokenQuirks
from gateway.hsm.session import HealingSession
from gateway.hsm.symmetric import SymmetricKeys
from gateway.hsm.unwrap import KeyUnwrapper


class TokenSession:
    def __init__(self, module: str, token_label: str, pin: str, quirks: TokenQuirks | None = None) -> None:
        self.link = HealingSession(module, token_label, pin, quirks)
        self.objects = TokenObjects(self.link)
        self.symmetric = SymmetricKeys(self.link, self.objects)
        self.asymmetric = AsymmetricKeys(self.link, self.objects)
        self.unwrapper = KeyUnwrapper(self.link, self.objects, self.asymmetric)

    # -- life cycle (the executor) ---------------------------------------------------------
    def open(self) -> None:
        self.link.open()

    def ensure_canary(self) -> None:
        self.link.ensure_canary()

    def probe(self) -> None:
        self.link.probe()

    def heal(self) -> None:
        self.link.heal()

    def close(self) -> None:
        self.link.close()

    @property
    def session(self) -> pkcs11.Session:
        """The raw python-pkcs11 session (tests and inspection only)."""
        return self.link.session

    @property
    def heals(self) -> int:
        return self.link.heals

    # -- the jobs gateway/app (first start) and gateway/audit (MAC key) run -------------------
    def has_key(self, label: str) -> bool:
        return self.objects.has_key(label)

    def generate_aes_key(self, label: str, key_id: str | None = None) -> None:
        self.symmetric.generate_aes_key(label, key_id)

    def random(self, nbytes: int) -> bytes:
        return self.link.random(nbytes)

    def gcm_seal(self, label: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        return self.symmetric.gcm_seal(label, plaintext, aad)

    def gcm_open(self, label: str, iv: bytes, body: bytes, aad: bytes) -> bytes | None:
        return self.symmetric.gcm_open(label, iv, body, aad)

    def secret_key_labels(self) -> list[str]:
        return self.objects.labels(ObjectClass.SECRET_KEY)

    def private_key_labels(self) -> list[str]:
        return self.objects.labels(ObjectClass.PRIVATE_KEY)
