"""The per-request gate both transports call once the caller is known: permission, then rate limit.

One entry point so REST and gRPC cannot drift apart. The hot path is cheap: a caller with no
policy and a gateway with no ``[limits]`` costs one attribute test and one boolean test; a
policy adds one dict lookup and one set membership test.
"""

from __future__ import annotations

from gateway.core import permissions
from gateway.core.model import Caller
from gateway.core.ratelimit import RateLimiter


class RequestGate:
    def __init__(self, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter if limiter is not None else RateLimiter()
        self._limited = self.limiter.active

    @classmethod
    def from_config(cls, limits: object | None) -> RequestGate:
        return cls(RateLimiter.from_config(limits) if limits is not None else None)

    def admit(self, caller: Caller, op: str) -> None:
        """OPERATION_DENIED if the caller's policy lacks the op's action; RateLimited if over its limit."""
        if caller.actions is not None:
            permissions.check(caller.actions, op)
        if self._limited:
            self.limiter.take(caller.principal or caller.user_id, op)


_AUDIT_FIELD_MAX = 64


def _short(value: object) -> str:
    return value[:_AUDIT_FIELD_MAX] if isinstance(value, str) else ""


def audit_key_id(request: object) -> str:
    """The key a request names, for the audit trail: its ``key_id``, else its first batch item's."""
    key_id = _short(getattr(request, "key_id", None))
    if not key_id:
        for item in getattr(request, "items", None) or ():
            key_id = _short(getattr(item, "key_id", None))
            if key_id:
                break
    return key_id


def audit_sequence(request: object) -> str | None:
    """The request's ``sequence`` (None when absent); truncated, never more of the body."""
    return _short(getattr(request, "sequence", None)) or None
