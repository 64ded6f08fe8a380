"""Audit trail: one hash-chained JSON line per request (skeleton; the audit engineer fills it in).

Transports build an :class:`AuditEvent` per finished request and hand it to
:meth:`AuditLog.record`; the log adds the time, its line number and the chain hash.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEvent:
    """What happened; never a plaintext, PIN, secret key or token."""

    transport: str  # "grpc" | "rest"
    op: str  # operation name as in metrics (e.g. "create_datakey")
    action: str  # permission action (e.g. "kms:dek:create"), "" when unknown
    principal: str  # who: access key, token user id or certificate-bound access key; "" if unauthenticated
    project_id: str  # the caller's project ("" if unauthenticated)
    key_id: str  # the key the request names ("" if none; batch: the first distinct key)
    result: str  # "OK" or the KMS error code answered
    request_id: str  # REST X-Request-Id / gRPC x-request-id (generated when absent)
    sequence: str | None  # the request's `sequence` field, if any


class AuditLog:
    def record(self, event: AuditEvent) -> None:
        raise NotImplementedError
