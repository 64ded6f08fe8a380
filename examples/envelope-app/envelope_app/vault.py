"""Records encrypted with data keys from the KMS (envelope encryption over gRPC).

Each record gets a fresh 256-bit data key: the KMS returns it in plaintext (used once, here, for
AES-256-GCM) and wrapped under the master key (stored beside the record). Opening a record asks
the KMS to unwrap the stored key, bound to the same encryption context.

When the KMS answers KMS.0102 (its HSM is failing) or cannot be reached, the vault retries with
a capped exponential back-off: an HSM that comes back within the budget costs latency, not errors.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import asdict, dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.client import KmsClient, KmsClientError

RETRYABLE_CODES = {"KMS.0102"}  # the KMS's HSM failed; the request may succeed once it heals


class VaultUnavailable(RuntimeError):
    """The KMS kept failing for the whole retry budget."""


@dataclass(frozen=True)
class SealedRecord:
    key_id: str
    wrapped_key: str  # base64: the data key wrapped by the KMS
    nonce: str  # base64
    ciphertext: str  # base64: AES-256-GCM of the record
    context: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SealedRecord:
        return cls(**json.loads(text))


class Vault:
    def __init__(self, kms: KmsClient, key_id: str, *, attempts: int = 8, backoff: float = 0.1, cap: float = 1.0):
        self.kms = kms
        self.key_id = key_id
        self.attempts = attempts
        self.backoff = backoff
        self.cap = cap
        self.retries = 0  # attempts repeated because the KMS failed (for metrics and tests)

    def _call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        for attempt in range(self.attempts):
            try:
                return fn(*args, **kwargs)
            except KmsClientError as exc:
                if exc.code not in RETRYABLE_CODES and not exc.unreachable:
                    raise
                if attempt == self.attempts - 1:
                    raise VaultUnavailable(f"the KMS kept failing: {exc}") from exc
                self.retries += 1
                time.sleep(min(self.cap, self.backoff * 2**attempt))
        raise AssertionError("unreachable")

    def seal(self, record: bytes, context: dict[str, str] | None = None) -> SealedRecord:
        context = context or {}
        dk = self._call(self.kms.create_data_key, self.key_id, context=context)
        nonce = os.urandom(12)
        body = AESGCM(dk.plain_text).encrypt(nonce, record, None)
        return SealedRecord(self.key_id, _b64(dk.cipher_text), _b64(nonce), _b64(body), dict(context))

    def open(self, sealed: SealedRecord) -> bytes:
        wrapped = base64.b64decode(sealed.wrapped_key)
        answer = self._call(self.kms.decrypt_data_key, sealed.key_id, wrapped, context=sealed.context)
        nonce, body = base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext)
        return AESGCM(answer.data_key).decrypt(nonce, body, None)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
