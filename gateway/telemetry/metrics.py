"""Prometheus metrics that explain where time goes: per request, per HSM call, per batch.

:class:`PrometheusMetrics` is the adapter of the core's metrics hooks (gateway/core/ports/metrics.py);
the module-level metrics are what it records into.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

REQUEST_SECONDS = Histogram(
    "kmsgw_request_seconds",
    "Request latency by operation and transport",
    ["op", "transport"],
    buckets=_LATENCY_BUCKETS,
)
REQUEST_ERRORS = Counter(
    "kmsgw_request_errors_total",
    "Failed requests by operation, transport and KMS error code",
    ["op", "transport", "code"],
)
HSM_OP_SECONDS = Histogram(
    "kmsgw_hsm_op_seconds", "Time one job holds the HSM session", ["op"], buckets=_LATENCY_BUCKETS
)
HSM_BATCH_SIZE = Histogram(
    "kmsgw_hsm_batch_size",
    "Jobs drained per executor wake-up",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
HSM_QUEUE_DEPTH = Gauge(
    "kmsgw_hsm_queue_depth",
    "Jobs waiting for the HSM executor, sampled after each of its batches",
    multiprocess_mode="livesum",
)
HSM_SESSIONS = Gauge(
    "kmsgw_hsm_sessions_in_use", "Open PKCS#11 sessions owned by the executor", multiprocess_mode="livesum"
)
HSM_HEALS = Counter("kmsgw_hsm_heals_total", "Session or library rebuilds after a token fault")
DATA_KEYS = Counter("kmsgw_data_keys_total", "Data keys created, encrypted or decrypted", ["op"])


class PrometheusMetrics:
    """The core's, the pipeline's and the HSM executor's counts, into the metrics above."""

    def __init__(self) -> None:
        self._request_children: dict[str, dict[str, Any]] = {}  # transport -> op -> REQUEST_SECONDS child
        self._hsm_children: dict[str, Any] = {}  # op -> HSM_OP_SECONDS child

    def data_keys(self, op: str, count: int) -> None:
        DATA_KEYS.labels(op).inc(count)

    def request_seconds(self, op: str, transport: str, seconds: float) -> None:
        # Every request passes here: each child is resolved once (labels() per call costs microseconds).
        by_op = self._request_children.get(transport)
        child = by_op.get(op) if by_op is not None else None
        if child is None:
            child = self._request_child(op, transport)
        child.observe(seconds)

    def declare_requests(self, ops: Iterable[str], transports: Iterable[str]) -> None:
        """Resolve the latency children of these operations at start-up: /metrics then lists every
        operation from the first scrape (at 0), and no request pays for the first resolution."""
        for transport in transports:
            for op in ops:
                self._request_child(op, transport)

    def _request_child(self, op: str, transport: str) -> Any:
        child = REQUEST_SECONDS.labels(op, transport)
        self._request_children.setdefault(transport, {})[op] = child
        return child

    def request_error(self, op: str, transport: str, code: str) -> None:
        REQUEST_ERRORS.labels(op, transport, code).inc()

    def hsm_job_seconds(self, op: str, seconds: float) -> None:
        # Once per job on the HSM thread, whose GIL time the event loop waits for: children resolved once.
        child = self._hsm_children.get(op)
        if child is None:
            child = self._hsm_children[op] = HSM_OP_SECONDS.labels(op)
        child.observe(seconds)

    def hsm_batch(self, size: int) -> None:
        HSM_BATCH_SIZE.observe(size)

    def hsm_queue_depth(self, depth: int) -> None:
        HSM_QUEUE_DEPTH.set(depth)

    def hsm_sessions(self, count: int) -> None:
        HSM_SESSIONS.set(count)

    def hsm_heal(self) -> None:
        HSM_HEALS.inc()


def render() -> tuple[bytes, str]:
    """The exposition text: this process's registry, or all workers' when multi-process."""
    import os

    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
