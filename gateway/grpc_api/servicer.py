"""KeyManagementService on the request pipeline: every method of every RPC group, bound once.

Per call the gRPC side only: reads the ``x-auth-token`` and ``x-request-id`` metadata (one pass),
finds a client certificate bound to a credential when there is no token (mTLS, docs/tls.md),
hands the call to the pipeline as a :class:`GrpcExchange`, and sends the answer — or the error as
a status by its kind plus trailing metadata ``kms-error-code`` / ``kms-error-msg`` (and
``retry-after`` when rate limited). ``x-request-id`` goes back as trailing metadata either way.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.grpc_api.errors import STATUS_BY_KIND
from gateway.grpc_api.rpc import Ctx, RpcMethod, discover
from gateway.pipeline import Endpoint, Failure, Pipeline, Services
from gateway.pipeline.audit_fields import key_id_of, sequence_of
from gateway.pipeline.request_ids import new_request_id

_MSG_MAX = 512
_REQUEST_ID = "x-request-id"
_AUTH_METADATA = "x-auth-token"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Undecodable:
    """What a request that is not a valid protobuf of its type (or holds invalid UTF-8 in a string
    field) decodes to (see ``grpc_api.server.tolerant``): answered INVALID_ARGUMENT with a KMS code,
    where grpc's own decode failure would be UNKNOWN, no code."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


class KmsServicer:
    """Every RPC group's methods bound to one pipeline; ``methods`` maps a method name to its callable."""

    def __init__(self, services: Services) -> None:
        self.pipeline: Pipeline = services.pipeline("grpc")
        self.auth = services.auth
        self.ctx = Ctx(services.kms, self.pipeline)
        self.methods: dict[str, Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]] = {}
        for group in discover():
            for method in group.methods:
                if method.name in self.methods:
                    raise RuntimeError(f"gRPC method declared twice: {method.name}")
                self.methods[method.name] = _BoundMethod(self, method).handle

    def caller(self, token: str | None, context: grpc.aio.ServicerContext) -> Caller:
        """The ``x-auth-token``'s caller; without one, a client certificate bound to a credential;
        else TOKEN_MISSING."""
        if not token:
            der = _peer_certificate_der(context)
            caller = self.auth.caller_from_certificate(der) if der else None
            if caller is not None:
                return caller
        return self.auth.caller_from_token(token)


class _BoundMethod:
    """One method on the pipeline (built at start-up: the per-call work is the exchange alone)."""

    __slots__ = ("endpoint", "handler", "pipeline", "servicer")

    def __init__(self, servicer: KmsServicer, method: RpcMethod) -> None:
        self.servicer = servicer
        self.pipeline = servicer.pipeline
        self.endpoint: Endpoint = servicer.pipeline.endpoint(method.operation)
        self.handler = method.handler

    async def handle(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """The method's behaviour (grpc.aio needs a coroutine function: a bound async method is one)."""
        exchange = GrpcExchange(self, request, context)
        answer = await self.pipeline.run(self.endpoint, exchange)
        if isinstance(answer, Failure):
            await _abort(context, answer, exchange.request_id)
        context.set_trailing_metadata(((_REQUEST_ID, exchange.request_id),))
        return answer


class GrpcExchange:
    """One call as the pipeline sees it (gateway/pipeline/contracts.py ``Exchange``)."""

    __slots__ = ("context", "method", "request", "request_id", "token")

    def __init__(self, method: _BoundMethod, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.method = method
        self.request = request
        self.context = context
        token = request_id = None
        for key, value in context.invocation_metadata() or ():
            if key == _AUTH_METADATA:
                token = value
            elif key == _REQUEST_ID and request_id is None:
                request_id = value
        self.token = token
        # The caller's x-request-id when it is a sane token (1-64 of [A-Za-z0-9._-]), else a fresh one.
        if isinstance(request_id, str) and _SANE_ID.fullmatch(request_id):
            self.request_id = request_id
        else:
            self.request_id = new_request_id()

    async def authenticate(self) -> Caller:
        return self.method.servicer.caller(self.token, self.context)

    def decode(self) -> Any:
        request = self.request
        if isinstance(request, Undecodable):
            raise KmsError(Err.INVALID_PARAMETER, f"The request is not a valid {request.type_name} message.")
        return request

    async def execute(self, caller: Caller, message: Any) -> Any:
        return await self.method.handler(self.method.servicer.ctx, message, caller)

    def audit_fields(self, message: Any) -> tuple[str, str | None]:
        """From the message grpc decoded anyway (even for an unauthenticated call: it costs nothing)."""
        request = self.request
        if isinstance(request, Undecodable):
            return "", None
        return key_id_of(request), sequence_of(request)


async def _abort(context: grpc.aio.ServicerContext, failure: Failure, request_id: str) -> None:
    wire = failure.wire
    msg = _metadata_text(wire.message)
    trailers = [("kms-error-code", wire.code), ("kms-error-msg", msg), (_REQUEST_ID, request_id)]
    if failure.retry_after is not None:
        trailers.append(("retry-after", str(failure.retry_after)))
    context.set_trailing_metadata(tuple(trailers))
    await context.abort(STATUS_BY_KIND[failure.error.err.kind], f"{wire.code}: {msg}")


def _metadata_text(text: str) -> str:
    """An error message fit for a metadata value: printable ASCII and short, even when it echoes input.

    gRPC refuses other bytes in metadata (the call would end INTERNAL without its KMS code), and a
    trailer beyond the peer's metadata limit turns into RESOURCE_EXHAUSTED.
    """
    safe = "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)
    return safe if len(safe) <= _MSG_MAX else safe[: _MSG_MAX - 3] + "..."


def _peer_certificate_der(context: grpc.aio.ServicerContext) -> bytes | None:
    """The DER certificate of a TLS peer (its ``x509_pem_cert`` auth property), if any."""
    pems = (context.auth_context() or {}).get("x509_pem_cert")
    if not pems:
        return None
    return ssl.PEM_cert_to_DER_cert(pems[0].decode("ascii"))
