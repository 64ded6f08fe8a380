"""The audit contract: the event every finished request leaves, and where it goes.

The request pipeline (gateway/pipeline) builds one :class:`AuditEvent` per answered request and
hands it to an :class:`AuditSink` before the answer leaves; the adapter (gateway/audit/trail.py)
writes it as a hash-chained, MAC'd line. A sink that raises makes the pipeline answer an internal
error instead: no answer leaves without its audit line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened; never a plaintext, PIN, secret key or token."""

    transport: str  # "grpc" | "rest" | ... (the pipeline's transport name)
    op: str  # the operation's catalog name, as in the metrics (e.g. "create_datakey"); "unknown"
    action: str  # permission action (e.g. "kms:dek:create"), "" when unknown
    principal: str  # who: access key, token user id or certificate-bound access key; "" if unauthenticated
    project_id: str  # the caller's project ("" if unauthenticated)
    key_id: str  # the key the request names ("" if none; batch: the first item's)
    result: str  # "OK" or the error code answered
    request_id: str  # the request id sent back to the client (generated when it sent none)
    sequence: str | None  # the request's `sequence` field, if any


class AuditSink(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Keep the event durably enough to answer (raise if it cannot be kept)."""
        ...
