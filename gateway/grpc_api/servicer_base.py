"""Shared plumbing of every gRPC handler: authentication, timing, error mapping.

Operation groups are mixins over :class:`ServicerBase` (one file each); ``servicer.py``
puts them together. No business rule lives here.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from gateway import metrics
from gateway.core import validate
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.grpc_api.errors import STATUS_BY_KIND
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.runtime import Runtime

log = logging.getLogger(__name__)
Handler = Callable[[Any, Caller], Awaitable[Any]]
_MSG_MAX = 512


class Undecodable:
    """What a request that is not a valid protobuf of its type (or holds invalid UTF-8 in a string
    field) decodes to (see ``grpc_api.server.tolerant``): :meth:`ServicerBase._handle` answers it
    INVALID_ARGUMENT with a KMS code, where grpc's own decode failure would be UNKNOWN, no code.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _metadata_text(text: str) -> str:
    """An error message fit for a metadata value: printable ASCII and short, even when it echoes input.

    gRPC refuses other bytes in metadata (the call would end INTERNAL without its KMS code), and a
    trailer beyond the peer's metadata limit turns into RESOURCE_EXHAUSTED.
    """
    safe = "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)
    return safe if len(safe) <= _MSG_MAX else safe[: _MSG_MAX - 3] + "..."


class ServicerBase:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.kms = rt.kms

    async def _handle(self, op: str, request: Any, context: grpc.aio.ServicerContext, fn: Handler) -> Any:
        start = time.perf_counter()
        try:
            caller = await self._caller(context)
            if isinstance(request, Undecodable):
                raise KmsError(Err.INVALID_PARAMETER, f"The request is not a valid {request.type_name} message.")
            # API.md: every request may carry `sequence`; check it even where the core op takes none.
            validate.sequence(getattr(request, "sequence", None))
            return await fn(request, caller)
        except KmsError as exc:
            await self._abort(op, context, exc)
        except Exception:
            log.exception("unhandled error", extra={"op": op, "transport": "grpc"})
            await self._abort(op, context, KmsError(Err.INTERNAL))
        finally:
            _latency(op).observe(time.perf_counter() - start)

    async def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        """Who is calling: the ``x-auth-token`` metadata."""
        token = dict(context.invocation_metadata() or ()).get("x-auth-token")
        return self.rt.auth.caller_from_token(token)

    async def _abort(self, op: str, context: grpc.aio.ServicerContext, exc: KmsError) -> None:
        wire = self.rt.dialect.render(exc)
        metrics.REQUEST_ERRORS.labels(op, "grpc", wire.code).inc()
        msg = _metadata_text(wire.message)
        context.set_trailing_metadata((("kms-error-code", wire.code), ("kms-error-msg", msg)))
        await context.abort(STATUS_BY_KIND[exc.err.kind], f"{wire.code}: {msg}")

    def _item_error(self, exc: object) -> pb.Error:
        assert isinstance(exc, KmsError)
        wire = self.rt.dialect.render(exc)
        return pb.Error(error_code=wire.code, error_msg=wire.message)


@functools.cache
def _latency(op: str) -> Any:
    """The op's latency histogram child, resolved once (``labels()`` per call costs on the hot path)."""
    return metrics.REQUEST_SECONDS.labels(op, "grpc")
