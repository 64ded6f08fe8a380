"""The XKS endpoint: one ASGI app for every path holding ``/kms/xks/v1`` (gateway/app mounts it on
the HTTP listener beside the REST app).

Order of checks; the first failure answers (docs/xks.md):

1. a path that names no keystore prefix or operation: 404 InvalidUriPathException;
2. a method other than POST: 405 with ``Allow: POST``;
3. ``[xks] client_cert_cn``: the connection's client certificate (gateway/xks/auth.py), 403;
4. a body over 1 MiB: 400 ValidationException (read before the signature, which covers it); then the
   SigV4 signature (gateway/xks/auth.py), 401;
5. the request pipeline's gate: rate limit, 429 ThrottlingException (gateway/pipeline: the same
   place for every transport, before the body is decoded);
6. the body (gateway/xks/wire.py): ValidationException or InvalidCiphertextException;
7. the operation in the core (gateway/core/xks/crypto.py): key, usage, state, size, the token.

Every answer goes through the pipeline (``Pipeline.run``; ``refuse`` for 1 and 2), so each is audited
(transport ``xks``, principal = access key id, request id = ``kmsRequestId``) and counted. Each
request also leaves one log line with ``kmsRequestId``, ``kmsOperation``, ``awsPrincipalArn``,
``kmsKeyArn``, the result and the time taken — never a plaintext, AAD, secret or signature.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from gateway.core import operations
from gateway.core.errors import Err
from gateway.core.model import Caller
from gateway.core.ports.store import XksKeystoreRow
from gateway.core.xks import XksService
from gateway.core.xks.errors import XksError, XksName
from gateway.pipeline import ClientGone, Failure, Services, http_body
from gateway.pipeline.audit_fields import clip
from gateway.pipeline.request_ids import new_request_id
from gateway.xks import wire
from gateway.xks.auth import XksAuth
from gateway.xks.errors import XksDialect, error_body
from gateway.xks.routing import OPERATIONS, XksRoute, match

MAX_BODY_BYTES = 1 << 20
BODY_TIMEOUT_S = 30.0
_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[["XksExchange", Caller, wire.XksRequest], Awaitable[bytes]]
log = logging.getLogger(__name__)


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole body (gateway/pipeline/http_body.py); ValidationException when it exceeds
    :data:`MAX_BODY_BYTES` or has not all arrived within :data:`BODY_TIMEOUT_S`."""
    declared = http_body.declared_length(scope["headers"])
    try:
        return await http_body.read_body(
            receive, MAX_BODY_BYTES, BODY_TIMEOUT_S, int(declared) if declared and declared.isdigit() else None
        )
    except http_body.BodyTooLarge:
        msg = f"The request body exceeds {MAX_BODY_BYTES} bytes."
        raise XksError(XksName.VALIDATION, Err.BODY_TOO_LARGE, msg) from None
    except http_body.BodyTimedOut:
        raise XksError(XksName.VALIDATION, Err.INVALID_JSON, "The request body did not arrive in time.") from None


class XksExchange:
    """One XKS request as the pipeline sees it (gateway/pipeline/contracts.py ``Exchange``)."""

    __slots__ = ("body", "body_read", "endpoint", "keystore", "meta", "receive", "request_id", "route", "scope")

    def __init__(self, endpoint: XksEndpoint, scope: Scope, receive: Receive, route: XksRoute | None) -> None:
        self.endpoint = endpoint
        self.scope = scope
        self.receive = receive
        self.route = route
        self.keystore: XksKeystoreRow | None = None
        self.request_id = new_request_id()  # kmsRequestId once the body is decoded
        self.body = b""
        self.body_read = False
        self.meta: wire.RequestMetadata | None = None

    async def authenticate(self) -> Caller:
        assert self.keystore is not None
        auth = self.endpoint.auth
        auth.check_certificate(self.scope)
        self.body = await read_body(self.scope, self.receive)
        self.body_read = True
        return await auth.caller(self.scope, self.keystore, self.body)

    def decode(self) -> wire.XksRequest:
        assert self.route is not None
        message = wire.decode(self.route.operation, self.body)
        self.meta = message.meta
        self.request_id = clip(message.meta.kms_request_id) or self.request_id
        return message

    async def execute(self, caller: Caller, message: wire.XksRequest) -> bytes:
        assert self.route is not None
        return await self.endpoint.handlers[self.route.operation.name](self, caller, message)

    def audit_fields(self, message: Any) -> tuple[str, str | None]:
        """The gateway key the path's external key id maps to (once the request got that far)."""
        route = self.route
        if message is None or route is None or not route.xks_key_id:
            return "", None
        mapping = self.endpoint.xks.directory.mapping(route.uri_prefix, route.xks_key_id)
        return (mapping.key_id if mapping is not None else ""), None


class XksEndpoint:
    def __init__(self, services: Services, xks: XksService, auth: XksAuth, *, log_requests: bool = True) -> None:
        self.xks = xks
        self.auth = auth
        self.log_requests = log_requests
        self.pipeline = services.pipeline("xks", XksDialect())
        self.endpoints = {op.name: self.pipeline.endpoint(op) for op in OPERATIONS}
        self._unknown = self.pipeline.endpoint(operations.UNKNOWN)
        self.handlers: dict[str, Handler] = {
            operations.XKS_GET_HEALTH_STATUS.name: self._health,
            operations.XKS_GET_KEY_METADATA.name: self._metadata,
            operations.XKS_ENCRYPT.name: self._encrypt,
            operations.XKS_DECRYPT.name: self._decrypt,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        start = time.perf_counter()
        route = match(scope["path"])
        exchange = XksExchange(self, scope, receive, route)
        exchange.keystore = self.xks.keystore(route.uri_prefix) if route is not None else None
        if route is None or exchange.keystore is None:
            missing = XksError(XksName.INVALID_URI_PATH, Err.INVALID_URL, "No XKS keystore or operation has this path.")
            failure = self.pipeline.refuse(self._unknown, exchange, missing)
            await _send(send, failure.wire.status, error_body(failure.wire), close=True)
            self._log(exchange, operations.UNKNOWN.name, failure.wire.status, failure.wire.code, start)
            return
        endpoint = self.endpoints[route.operation.name]
        if scope["method"] != "POST":
            refused = XksError(XksName.VALIDATION, Err.INVALID_URL, "Only POST is allowed here.", status=405)
            failure = self.pipeline.refuse(endpoint, exchange, refused)
            await _send(send, 405, error_body(failure.wire), close=True, extra=((b"allow", b"POST"),))
            self._log(exchange, endpoint.name, 405, failure.wire.code, start)
            return
        try:
            answer = await self.pipeline.run(endpoint, exchange)
        except ClientGone:
            return
        if isinstance(answer, Failure):
            retry = answer.retry_after
            extra = ((b"retry-after", str(retry).encode()),) if retry is not None else ()
            status = answer.wire.status
            await _send(send, status, error_body(answer.wire), close=not exchange.body_read, extra=extra)
            self._log(exchange, endpoint.name, status, answer.wire.code, start)
        else:
            await _send(send, 200, answer)
            self._log(exchange, endpoint.name, 200, None, start)

    # -- the operations (the core does the work; these only translate) ---------------------------
    async def _health(self, ex: XksExchange, caller: Caller, message: wire.XksRequest) -> bytes:
        return wire.health_body(await self.xks.health_report())

    async def _metadata(self, ex: XksExchange, caller: Caller, message: wire.XksRequest) -> bytes:
        assert ex.route is not None
        meta = await self.xks.get_key_metadata(caller, ex.route.uri_prefix, ex.route.xks_key_id)
        return wire.metadata_body(meta)

    async def _encrypt(self, ex: XksExchange, caller: Caller, message: wire.XksRequest) -> bytes:
        assert ex.route is not None
        out = await self.xks.encrypt(
            caller,
            ex.route.uri_prefix,
            ex.route.xks_key_id,
            message.plaintext,
            message.aad,
            integrity=message.integrity,
        )
        return wire.encrypt_body(out)

    async def _decrypt(self, ex: XksExchange, caller: Caller, message: wire.XksRequest) -> bytes:
        assert ex.route is not None
        plain = await self.xks.decrypt(
            caller,
            ex.route.uri_prefix,
            ex.route.xks_key_id,
            message.ciphertext,
            message.iv,
            message.tag,
            message.aad,
            message.metadata,
        )
        return wire.decrypt_body(plain)

    def _log(self, ex: XksExchange, op: str, status: int, error: str | None, start: float) -> None:
        if not self.log_requests:
            return
        route = ex.route
        extra: dict[str, Any] = {
            "transport": "xks",
            "op": op,
            "status": status,
            "error": error,
            "ms": round((time.perf_counter() - start) * 1000, 3),
            "uri_prefix": route.uri_prefix[:128] if route is not None else "",
            "xks_key_id": route.xks_key_id if route is not None else "",
        }
        if ex.meta is not None:
            extra.update(ex.meta.log_fields())
        log.info("xks request", extra=extra)


async def _send(
    send: Send, status: int, payload: bytes, *, close: bool = False, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [_JSON, (b"content-length", str(len(payload)).encode()), *extra]
    if close:
        headers.append(_CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def create_xks_app(
    services: Services,
    xks: XksService,
    *,
    regions: Iterable[str] = (),
    max_clock_skew_s: float = 300.0,
    client_cert_cns: Iterable[str] = (),
    log_requests: bool = True,
) -> XksEndpoint:
    """The XKS ASGI app; TLS and its client CA are the listener's (``[tls]``), handed in by the app."""
    auth = XksAuth(
        xks, services.clock, regions=regions, max_clock_skew_s=max_clock_skew_s, client_cert_cns=client_cert_cns
    )
    return XksEndpoint(services, xks, auth, log_requests=log_requests)
