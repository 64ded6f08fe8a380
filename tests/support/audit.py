"""Helpers of tests/system/test_audit.py that child processes import (spawned: no pytest fixtures, no token)."""

from __future__ import annotations

from gateway.audit.trail import AuditEvent, AuditLog


def event(i: int = 0, **kw: str | None) -> AuditEvent:
    fields: dict[str, str | None] = {
        "transport": "grpc",
        "op": "create_datakey",
        "action": "kms:dek:create",
        "principal": "AKTESTTESTTESTTEST01",
        "project_id": "0123456789abcdef0123456789abcdef",
        "key_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "result": "OK",
        "request_id": f"req-{i}",
        "sequence": None,
    }
    fields.update(kw)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def append_many(path: str, key: bytes, worker: int, count: int) -> None:
    """One writer process: its own AuditLog on the shared file, `count` records."""
    log = AuditLog(path, key, fsync="never")
    try:
        for i in range(count):
            log.record(event(i, request_id=f"w{worker}-{i}"))
    finally:
        log.close()
