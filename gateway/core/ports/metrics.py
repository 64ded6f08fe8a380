"""The metrics hooks: what the core, the request pipeline and the HSM executor count, nothing more.

Each part asks only for the narrow protocol it needs; one adapter (gateway/telemetry/metrics.py,
Prometheus) implements all of them, and :class:`NoMetrics` stands in where nothing is exported
(tests, CLI commands that open the token themselves).
"""

from __future__ import annotations

from typing import Protocol


class CoreMetrics(Protocol):
    def data_keys(self, op: str, count: int) -> None:
        """``count`` data keys created, encrypted or decrypted (``op`` create | encrypt | decrypt)."""
        ...


class RequestMetrics(Protocol):
    def request_seconds(self, op: str, transport: str, seconds: float) -> None: ...

    def request_error(self, op: str, transport: str, code: str) -> None: ...


class HsmMetrics(Protocol):
    def hsm_job_seconds(self, op: str, seconds: float) -> None:
        """How long one job held the HSM session."""
        ...

    def hsm_batch(self, size: int) -> None:
        """Jobs drained by one executor wake-up."""
        ...

    def hsm_queue_depth(self, depth: int) -> None:
        """Jobs waiting in the executor's queue, as the executor saw it after its last batch."""
        ...

    def hsm_sessions(self, count: int) -> None:
        """Open sessions the executor owns (0 while the token is down)."""
        ...

    def hsm_heal(self) -> None:
        """One session or library rebuild after a token fault."""
        ...


class Metrics(CoreMetrics, RequestMetrics, HsmMetrics, Protocol):
    """Everything the gateway counts."""


class NoMetrics:
    """Counts nothing (implements :class:`Metrics`)."""

    def data_keys(self, op: str, count: int) -> None:
        pass

    def request_seconds(self, op: str, transport: str, seconds: float) -> None:
        pass

    def request_error(self, op: str, transport: str, code: str) -> None:
        pass

    def hsm_job_seconds(self, op: str, seconds: float) -> None:
        pass

    def hsm_batch(self, size: int) -> None:
        pass

    def hsm_queue_depth(self, depth: int) -> None:
        pass

    def hsm_sessions(self, count: int) -> None:
        pass

    def hsm_heal(self) -> None:
        pass
