"""When to try a call again, and how long to wait first.

Policy (docs/client.md "Retries"):
- UNAVAILABLE is retried for every RPC: the gateway was not reachable (not started yet, restarting,
  draining). A write whose reply was lost in flight may thus run twice; the gateway's own rules make
  that visible rather than harmful (a replayed CreateKey fails as a duplicate alias, KMS.1104, instead
  of creating a second key; a replayed state change answers the state it already made or a state
  error), and data-key and data calls keep no server state.
- DEADLINE_EXCEEDED is retried only for idempotent reads (describe, list, decrypts, counts): the
  call may still be running on the gateway, and repeating a slow write would pile up load.
- Nothing else is retried: every other status is the gateway's considered answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

# RPCs that read state or compute a pure function of their input: safe to repeat after a timeout.
IDEMPOTENT_READS = frozenset(
    {
        "DescribeKey",
        "ListKeys",
        "GetUserInstances",
        "GetUserQuotas",
        "DecryptData",
        "DecryptDataKey",
        "BatchDecryptDataKey",
        "GetKeyRotationStatus",
        "ListGrants",
        "ListRetirableGrants",
        "ListKeyTags",
        "ListProjectTags",
        "ListResourceInstances",
        "GetPublicKey",
        "Verify",
    }
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of min(cap, base * 2**n)."""

    base: float = 0.2
    cap: float = 5.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def retryable(method: str, status: grpc.StatusCode | None) -> bool:
    if status == grpc.StatusCode.UNAVAILABLE:
        return True
    return status == grpc.StatusCode.DEADLINE_EXCEEDED and method in IDEMPOTENT_READS
