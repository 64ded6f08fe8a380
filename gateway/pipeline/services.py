"""What the composition root (gateway/app) hands to every transport: the core and the request pipeline.

Transports take a :class:`Services` and never import gateway.app or an adapter: the audit trail,
the metrics and the health probe reach them through the protocols and callables held here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.core.gate import RequestGate
from gateway.core.ports.audit import AuditSink
from gateway.core.ports.metrics import NoMetrics, RequestMetrics
from gateway.pipeline.contracts import ErrorDialect
from gateway.pipeline.pipeline import Pipeline

if TYPE_CHECKING:
    from gateway.core.auth import Authenticator
    from gateway.core.clock import Clock
    from gateway.core.service import Kms


def _always_healthy() -> bool:
    return True


def _no_metrics_text() -> tuple[bytes, str]:
    return b"", "text/plain; version=0.0.4; charset=utf-8"


@dataclass(eq=False)
class Services:
    kms: Kms  # the core's facade: every KMS operation
    auth: Authenticator  # tokens, AK/SK secrets, certificate bindings -> a Caller
    clock: Clock  # the gateway's clock (signature windows)
    dialect: ErrorDialect  # the configured KMS error dialect (REST, gRPC, batch item errors)
    gate: RequestGate = field(default_factory=RequestGate)  # permission + rate limit per request
    audit: AuditSink | None = None  # None: no audit trail kept
    metrics: RequestMetrics = field(default_factory=NoMetrics)
    health: Callable[[], bool] = _always_healthy  # readiness: False while the HSM is down
    metrics_text: Callable[[], tuple[bytes, str]] = _no_metrics_text  # (exposition body, content type)

    def pipeline(self, transport: str, dialect: ErrorDialect | None = None) -> Pipeline:
        """The request pipeline of one transport; ``dialect``: its own error dialect (default: the
        configured KMS one), e.g. ``{errorName, errorMessage}`` for an XKS endpoint."""
        return Pipeline(self, transport, dialect)
