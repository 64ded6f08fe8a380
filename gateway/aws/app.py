"""The AWS KMS API endpoint: AWS JSON 1.1 on the HTTP listener (gateway/app routes every request that
carries ``X-Amz-Target`` here, beside the REST and XKS apps).

A request is ``POST /`` with ``X-Amz-Target: TrentService.<Operation>`` and a JSON body. Order of
checks, the first failure answers:

1. a target that names no operation this gateway serves: UnknownOperationException;
2. a body over 1 MiB: ValidationException (read before the signature, which covers it);
3. SigV4 (gateway/aws/auth.py): MissingAuthenticationToken / UnrecognizedClient / InvalidSignature;
4. the request pipeline's gate (rate limit: ThrottlingException);
5. the body against AWS's service model (gateway/aws/shapes.py): Serialization / ValidationException;
6. the operation (gateway/core/aws): key, policy and grants, state, the token.

Steps 2-6 run inside the pipeline, so every answer is audited (transport ``aws``, principal = access
key id, the account's project) and counted. In test mode only (`kmsgw dev`, the pytest plugin), a
loopback client may ``POST /moto-api/reset`` to wipe the AWS side, as moto's server mode offers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gateway.aws import ops, shapes
from gateway.aws.auth import AwsAuth
from gateway.aws.errors import AwsDialect, error_body
from gateway.aws.routing import AwsRoute, match
from gateway.core import operations
from gateway.core.aws import AwsService
from gateway.core.aws.directory import AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName
from gateway.core.model import Caller
from gateway.pipeline import ClientGone, Failure, Services, http_body
from gateway.pipeline.audit_fields import clip
from gateway.pipeline.request_ids import new_uuid_shaped_request_id

MAX_BODY_BYTES = 1 << 20
BODY_TIMEOUT_S = 30.0
RESET_PATH = "/moto-api/reset"
_JSON = (b"content-type", b"application/x-amz-json-1.1")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole body (gateway/pipeline/http_body.py); ValidationException over :data:`MAX_BODY_BYTES`,
    SerializationException when it has not all arrived within :data:`BODY_TIMEOUT_S`."""
    declared = http_body.declared_length(scope["headers"])
    try:
        return await http_body.read_body(
            receive, MAX_BODY_BYTES, BODY_TIMEOUT_S, int(declared) if declared and declared.isdigit() else None
        )
    except http_body.BodyTooLarge:
        raise AwsError(AwsName.VALIDATION, f"The request body exceeds {MAX_BODY_BYTES} bytes.") from None
    except http_body.BodyTimedOut:
        raise AwsError(AwsName.SERIALIZATION, "The request body did not arrive in time.") from None


def request_id() -> str:
    """A UUID-shaped ``x-amzn-RequestId``, unique across processes and restarts. Not ``uuid4()``:
    its ``os.urandom`` releases the GIL on every request, and a busy worker then waits for the HSM
    thread to hand it back (measured: the single largest cost of the AWS request path)."""
    return new_uuid_shaped_request_id()


def target_of(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-amz-target":
            return value.decode("latin-1")
    return None


class AwsExchange:
    """One AWS request as the pipeline sees it (gateway/pipeline/contracts.py ``Exchange``)."""

    __slots__ = ("body", "body_read", "endpoint", "identity", "receive", "request_id", "route", "scope")

    def __init__(self, endpoint: AwsEndpoint, scope: Scope, receive: Receive, route: AwsRoute | None) -> None:
        self.endpoint = endpoint
        self.scope = scope
        self.receive = receive
        self.route = route
        self.request_id = request_id()
        self.body = b""
        self.body_read = False
        self.identity: AwsIdentity | None = None

    async def authenticate(self) -> Caller:
        self.body = await read_body(self.scope, self.receive)
        self.body_read = True
        self.identity = await self.endpoint.auth.identity(self.scope, self.body)
        return self.identity.caller

    def decode(self) -> dict[str, Any]:
        assert self.route is not None
        return shapes.decode(self.route.name, self.body)

    async def execute(self, caller: Caller, message: dict[str, Any]) -> bytes:
        assert self.route is not None and self.identity is not None
        return shapes.encode(await self.route.handler(self.endpoint.aws, self.identity, message))

    def audit_fields(self, message: Any) -> tuple[str, str | None]:
        if not isinstance(message, dict):
            return "", None
        key_id = message.get("KeyId") or message.get("TargetKeyId") or message.get("SourceKeyId") or ""
        return (clip(key_id) if isinstance(key_id, str) else ""), None


class AwsEndpoint:
    def __init__(self, services: Services, aws: AwsService, *, max_skew_s: float = 300.0) -> None:
        self.aws = aws
        self.auth = AwsAuth(aws.directory, services.clock, max_skew_s=max_skew_s)
        self.pipeline = services.pipeline("aws", AwsDialect())
        self.endpoints = {route.name: self.pipeline.endpoint(route.operation) for route in ops.ROUTES.values()}
        self._unknown = self.pipeline.endpoint(operations.UNKNOWN)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == RESET_PATH:
            await self._reset(scope, send)
            return
        target = target_of(scope) or ""
        route = match(target) if scope["method"] == "POST" and scope["path"] == "/" else None
        exchange = AwsExchange(self, scope, receive, route)
        if route is None:
            unknown = AwsError(AwsName.UNKNOWN_OPERATION, "")
            failure = self.pipeline.refuse(self._unknown, exchange, unknown)
            await _send(send, failure.wire.status, error_body(failure.wire), exchange.request_id, close=True)
            return
        try:
            answer = await self.pipeline.run(self.endpoints[route.name], exchange)
        except ClientGone:
            return
        if isinstance(answer, Failure):
            retry = answer.retry_after
            extra = ((b"retry-after", str(retry).encode()),) if retry is not None else ()
            payload = error_body(answer.wire)
            await _send(
                send, answer.wire.status, payload, exchange.request_id, close=not exchange.body_read, extra=extra
            )
        else:
            await _send(send, 200, answer, exchange.request_id)

    async def _reset(self, scope: Scope, send: Send) -> None:
        """moto's ``POST /moto-api/reset``: a test gateway's AWS keys, aliases and grants are wiped."""
        client = (scope.get("client") or ("", 0))[0]
        if not self.aws.test_mode or scope["method"] != "POST" or not _loopback(client):
            failure = AwsError(AwsName.UNKNOWN_OPERATION, "")
            await _send(send, 400, error_body(AwsDialect().render(failure)), request_id(), close=True)
            return
        deleted = await self.aws.reset()
        await _send(send, 200, b'{"status": "ok", "deleted_keys": %d}' % deleted, request_id())


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _send(
    send: Send,
    status: int,
    payload: bytes,
    request_id: str,
    *,
    close: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    headers = [_JSON, (b"content-length", str(len(payload)).encode()), (b"x-amzn-requestid", request_id.encode())]
    headers.extend(extra)
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def create_aws_app(services: Services, aws: AwsService, *, max_skew_s: float = 300.0) -> AwsEndpoint:
    return AwsEndpoint(services, aws, max_skew_s=max_skew_s)
