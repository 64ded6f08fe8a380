"""Token buckets per (principal, operation): the ``[limits]`` section of the configuration.

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request takes one
token or is refused with the seconds until the next token (the transports send it as
``Retry-After``). The limit of a (principal, operation) pair is, most specific first: the
principal's override, the operation's override (by operation name, then by its permission
action), then the default. ``rate = 0`` is unlimited. Operations are named as in the catalog
(gateway/core/operations.py); a former name in the configuration counts as the operation it
named. Buckets live in this process only: with ``--workers N`` each worker counts on its own, so
a client spread over N workers may get up to N times the configured rate. A batch RPC counts as
one request.

Memory stays bounded: a bucket that has been idle long enough to be full again is the same as
no bucket and is dropped by a periodic sweep; beyond ``max_buckets`` the least recently used
half is dropped too (those principals start again from a full bucket).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core import operations, permissions
from gateway.core.errors import Err, KmsError

_SWEEP_SECONDS = 30.0


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second; 0 = unlimited
    burst: float  # bucket size

    @classmethod
    def of(cls, rate: float, burst: float = 0, where: str = "[limits]") -> Limit:
        rate, burst = float(rate), float(burst)
        if rate < 0 or burst < 0 or math.isnan(rate) or math.isnan(burst):
            raise ValueError(f"{where}: rate and burst must be >= 0")
        if rate and not burst:
            burst = max(1.0, math.ceil(rate))  # default: one second's worth
        if rate and burst < 1:
            raise ValueError(f"{where}: burst must be at least 1")
        return cls(rate, burst)


UNLIMITED = Limit(0.0, 0.0)


class RateLimited(KmsError):
    """Over the limit: RATE_LIMITED, with the whole seconds a client should wait (>= 1)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(Err.RATE_LIMITED)
        self.retry_after = retry_after


class RateLimiter:
    """Buckets keyed by (principal, operation); :meth:`take` is the only hot call."""

    def __init__(
        self,
        default: Limit = UNLIMITED,
        operations: Mapping[str, Limit] | None = None,
        principals: Mapping[str, Limit] | None = None,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self.operations = dict(operations or {})
        self.principals = dict(principals or {})
        self.max_buckets = max(1, max_buckets)
        self._clock = clock
        # (principal, op) -> [tokens, last refill time, rate, burst]
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._next_sweep = clock() + _SWEEP_SECONDS

    @property
    def active(self) -> bool:
        """False when no limit can ever apply (the gate then skips the limiter entirely)."""
        return any(lim.rate for lim in (self.default, *self.operations.values(), *self.principals.values()))

    def limit_for(self, principal: str, op: str) -> Limit:
        hit = self.principals.get(principal)
        if hit is not None:
            return hit
        hit = self.operations.get(op)
        if hit is not None:
            return hit
        hit = self.operations.get(permissions.action_for(op))
        return self.default if hit is None else hit

    def take(self, principal: str, op: str) -> None:
        """Take one token for this pair, or raise :class:`RateLimited`."""
        now = self._clock()
        key = (principal, op)
        bucket = self._buckets.get(key)
        if bucket is None:
            if now >= self._next_sweep or len(self._buckets) >= self.max_buckets:
                self._sweep(now)
            limit = self.limit_for(principal, op)
            bucket = [limit.burst, now, limit.rate, limit.burst]
            self._buckets[key] = bucket
        rate = bucket[2]
        if not rate:
            return
        tokens = min(bucket[3], bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return
        bucket[0] = tokens
        raise RateLimited(max(1, math.ceil((1.0 - tokens) / rate)))

    def _sweep(self, now: float) -> None:
        """Drop buckets that are full again (or unlimited); then, if still too many, the idlest half."""
        self._next_sweep = now + _SWEEP_SECONDS
        buckets = self._buckets
        for key in [k for k, b in buckets.items() if not b[2] or b[0] + (now - b[1]) * b[2] >= b[3]]:
            del buckets[key]
        if len(buckets) >= self.max_buckets:
            by_age = sorted(buckets, key=lambda k: buckets[k][1])
            for key in by_age[: len(by_age) // 2 + 1]:
                del buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)

    @classmethod
    def from_config(cls, cfg: Any) -> RateLimiter:
        """Build from a ``LimitsConfig`` (``[limits]``); unknown operation names are refused."""
        default = Limit.of(cfg.rate, cfg.burst)
        operations: dict[str, Limit] = {}
        for name, entry in (cfg.operations or {}).items():
            key = _operation_key(str(name))
            if key in operations:
                raise ValueError(f"[limits.operations]: {name!r} names an operation already given (by another name)")
            operations[key] = _limit_entry(entry, f"[limits.operations.{name!r}]")
        principals = {
            str(name): _limit_entry(entry, f"[limits.principals.{name!r}]")
            for name, entry in (cfg.principals or {}).items()
        }
        return cls(default, operations, principals, int(cfg.max_buckets))


def _operation_key(name: str) -> str:
    """The key of a ``[limits.operations]`` entry: an action, or an operation's canonical name
    (a former name, e.g. gRPC's ``list_key_tags``, counts as the operation it named)."""
    if name in permissions.KNOWN_ACTIONS:
        return name
    op = operations.resolve(name)
    if op is None:
        raise ValueError(f"[limits.operations]: unknown operation or action {name!r}")
    return op.name


def _limit_entry(entry: object, where: str) -> Limit:
    if not isinstance(entry, Mapping) or set(entry) - {"rate", "burst"} or "rate" not in entry:
        raise ValueError(f"{where}: expected a table with rate (and optionally burst)")
    return Limit.of(entry["rate"], entry.get("burst", 0), where)
