"""Shared plumbing of every gRPC handler: authentication, timing, error mapping.

Operation groups are mixins over :class:`ServicerBase` (one file each); ``servicer.py``
puts them together. No business rule lives here.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from gateway.app.runtime import Runtime
from gateway.app.tls import peer_der_of_grpc
from gateway.audit.trail import AuditEvent
from gateway.core import permissions, validate
from gateway.core.errors import Err, KmsError
from gateway.core.gate import audit_key_id, audit_sequence
from gateway.core.model import Caller
from gateway.core.ratelimit import RateLimited
from gateway.grpc_api.errors import STATUS_BY_KIND
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.telemetry import metrics

log = logging.getLogger(__name__)
Handler = Callable[[Any, Caller], Awaitable[Any]]
_MSG_MAX = 512
_REQUEST_ID = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


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
        request_id = _request_id(context)
        seen = _Seen(request)
        try:
            seen.caller = caller = await self._caller(context)
            self.rt.gate.admit(caller, op)  # permission, then rate limit
            if isinstance(request, Undecodable):
                raise KmsError(Err.INVALID_PARAMETER, f"The request is not a valid {request.type_name} message.")
            # docs/api.md: every request may carry `sequence`; check it even where the core op takes none.
            validate.sequence(getattr(request, "sequence", None))
            response = await fn(request, caller)
            if self.rt.audit is not None:  # fail closed: no answer leaves without its audit line
                seen.audited = True
                self._audit(op, seen, request_id, "OK")
            context.set_trailing_metadata(((_REQUEST_ID, request_id),))
            return response
        except KmsError as exc:
            await self._abort(op, context, exc, seen, request_id)
        except Exception:
            log.exception("unhandled error", extra={"op": op, "transport": "grpc"})
            await self._abort(op, context, KmsError(Err.INTERNAL), seen, request_id)
        finally:
            _latency(op).observe(time.perf_counter() - start)

    def _audit(self, op: str, seen: _Seen, request_id: str, result: str) -> None:
        """One audit event, written before the answer leaves (raises if the log cannot take it)."""
        assert self.rt.audit is not None
        caller, request = seen.caller, seen.request
        decoded = not isinstance(request, Undecodable)
        self.rt.audit.record(
            AuditEvent(
                transport="grpc",
                op=op,
                action=permissions.action_for(op),
                principal=caller.principal if caller else "",
                project_id=caller.project_id if caller else "",
                key_id=audit_key_id(request) if decoded else "",
                result=result,
                request_id=request_id,
                sequence=audit_sequence(request) if decoded else None,
            )
        )

    async def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        """Who is calling: the ``x-auth-token`` metadata; without one, a client certificate bound
        to a credential (mTLS, docs/tls.md); else TOKEN_MISSING as before."""
        token = dict(context.invocation_metadata() or ()).get("x-auth-token")
        if not token:
            der = peer_der_of_grpc(context)
            caller = self.rt.auth.caller_from_certificate(der) if der else None
            if caller is not None:
                return caller
        return self.rt.auth.caller_from_token(token)

    async def _abort(
        self, op: str, context: grpc.aio.ServicerContext, exc: KmsError, seen: _Seen, request_id: str
    ) -> None:
        wire = self.rt.dialect.render(exc)
        if self.rt.audit is not None and not seen.audited:
            seen.audited = True
            try:
                self._audit(op, seen, request_id, wire.code)
            except Exception:  # the error is answered anyway; a fault of the trail itself is INTERNAL
                log.exception("audit write failed", extra={"op": op, "transport": "grpc"})
                exc = KmsError(Err.INTERNAL)
                wire = self.rt.dialect.render(exc)
        metrics.REQUEST_ERRORS.labels(op, "grpc", wire.code).inc()
        msg = _metadata_text(wire.message)
        trailers = [("kms-error-code", wire.code), ("kms-error-msg", msg), (_REQUEST_ID, request_id)]
        if isinstance(exc, RateLimited):
            trailers.append(("retry-after", str(exc.retry_after)))
        context.set_trailing_metadata(tuple(trailers))
        await context.abort(STATUS_BY_KIND[exc.err.kind], f"{wire.code}: {msg}")

    def _item_error(self, exc: object) -> pb.Error:
        assert isinstance(exc, KmsError)
        wire = self.rt.dialect.render(exc)
        return pb.Error(error_code=wire.code, error_msg=wire.message)


class _Seen:
    """What the pipeline learned of a call so far (for its audit event)."""

    __slots__ = ("audited", "caller", "request")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.caller: Caller | None = None
        self.audited = False


def _request_id(context: grpc.aio.ServicerContext) -> str:
    """The caller's ``x-request-id`` when it is a sane token (1-64 of [A-Za-z0-9._-]), else a fresh one."""
    for key, value in context.invocation_metadata() or ():
        if key == _REQUEST_ID:
            if isinstance(value, str) and _SANE_ID.fullmatch(value):
                return value
            break
    return os.urandom(16).hex()


@functools.cache
def _latency(op: str) -> Any:
    """The op's latency histogram child, resolved once (``labels()`` per call costs on the hot path)."""
    return metrics.REQUEST_SECONDS.labels(op, "grpc")
