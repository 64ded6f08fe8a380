"""RPC groups: how a gRPC method is declared once, then bound to the request pipeline.

An operation group is a module ``gateway/grpc_api/servicer_<group>.py`` that defines
``rpcs = RpcGroup(...)`` and registers one handler per method of ``KeyManagementService``::

    rpcs = RpcGroup("keys")

    @rpcs.method("DescribeKey", ops.DESCRIBE_KEY)
    async def describe_key(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
        return pb.KeyInfoResponse(key_info=key_info(ctx, ctx.kms.describe_key(caller, r.key_id)))

The operation (an entry of gateway/core/operations.py) names the call in metrics, audit lines
and rate limits and gives its permission action. A handler translates the message, calls the
core and builds the response: no business rule, no error handling (it raises ``KmsError``; the
pipeline renders it). :func:`discover` finds every group, as the REST route groups are found.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.core.operations import Operation
from gateway.pipeline import ErrorDialect, Pipeline

if TYPE_CHECKING:
    from gateway.core.service import Kms


class Ctx:
    """What a handler may use besides its message and caller: the core and the error dialect (for
    a batch's per-item errors). One per server, not per call."""

    __slots__ = ("_pipeline", "kms")

    def __init__(self, kms: Kms, pipeline: Pipeline) -> None:
        self.kms = kms
        self._pipeline = pipeline

    @property
    def dialect(self) -> ErrorDialect:
        return self._pipeline.dialect


Handler = Callable[[Ctx, Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class RpcMethod:
    name: str  # the method of KeyManagementService, e.g. "DescribeKey"
    operation: Operation
    handler: Handler


class RpcGroup:
    """The methods of one operation group, in declaration order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.methods: list[RpcMethod] = []

    def method(self, name: str, operation: Operation) -> Callable[[Handler], Handler]:
        if not isinstance(operation, Operation):
            raise TypeError(f"{name}: the operation must be an entry of gateway/core/operations.py")

        def register(fn: Handler) -> Handler:
            self.methods.append(RpcMethod(name, operation, fn))
            return fn

        return register


def discover() -> list[RpcGroup]:
    """Every ``gateway.grpc_api.servicer_*`` module's ``rpcs``, in module-name order."""
    import gateway.grpc_api as pkg

    groups = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("servicer_"):
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            group = getattr(module, "rpcs", None)
            if not isinstance(group, RpcGroup):
                raise RuntimeError(f"{module.__name__} must define `rpcs = RpcGroup(...)`")
            groups.append(group)
    return groups
