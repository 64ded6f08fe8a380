"""The per-request gate, called once the caller is known: permission, then rate limit.

The request pipeline (gateway/pipeline) calls it for every transport, so none can skip or reorder
it. ``op`` is the operation's catalog name. The hot path is cheap: a caller with no policy and a
gateway with no ``[limits]`` costs one attribute test and one boolean test; a policy adds one dict
lookup and one set membership test.
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
