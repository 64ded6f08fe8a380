"""The HTTP listener: the KMS REST API, OpenAPI document, health and Prometheus metrics.

Stack: Starlette on uvicorn with httptools. Starlette is a small ASGI toolkit whose pieces are
plain classes and functions (no dependency injection, no implicit body parsing, no global
state), uvicorn with httptools is the fastest mainstream Python HTTP/1.1 server, and both are
already what the rest of the gateway runs on, so REST adds no new framework. The KMS API itself
is one plain ASGI endpoint (:class:`KmsEndpoint`): it finds the route, then hands the request to
the request pipeline (gateway/pipeline: authentication, permission and rate limit, audit, error
rendering, metrics) as a :class:`RestExchange` — which reads the body under the size limit, checks
the token or AK/SK signature, validates with the pydantic models and calls the route's handler —
and sends the answer itself. A request costs one route-table lookup, one pydantic parse and one
serialization, with every table and schema built once at start-up.

Layout of ``gateway/rest``:

* ``app.py`` — this factory and the REST side of the pipeline (body limit, error envelope,
  ``X-Request-Id``); ``auth.py`` — X-Auth-Token and AK/SK (``aksk_signatures.py``) to a caller;
* ``protocol.py`` — the HTTP connection: uvicorn's httptools protocol with a head deadline and
  size limit, and the error envelope for requests the parser refuses;
* ``routing.py`` — :class:`RouteGroup` / :class:`RouteTable` / :class:`Ctx`;
* ``schemas_*.py`` — the pydantic models of each group (the one place the wire schema lives);
* ``routes_*.py`` — one file per operation group; ``openapi.py`` — the OpenAPI 3.1 document.

Adding a route group (e.g. grants) — no shared file changes:

1. ``gateway/rest/schemas_grants.py``: request models subclass ``RequestModel`` and declare
   every field with ``field(Err.X, "description")`` (``Err.X`` is what a bad value means; a
   missing required field is KMS.0204 automatically); use ``NumStr``/``OptNumStr`` for the
   string-typed numbers (docs/api.md), ``HexBytes``/``B64Bytes`` for binary. Response models subclass
   ``ResponseModel``.
2. ``gateway/rest/routes_grants.py``::

       routes = RouteGroup("grants", "What the group does.")

       @routes.post("/create-grant", op=ops.CREATE_GRANT, request=s.CreateGrantRequest,
                    response=s.CreateGrantResponse, sdk="create_grant")
       async def create_grant(ctx: Ctx, body: s.CreateGrantRequest) -> s.CreateGrantResponse:
           grant = await ctx.kms.create_grant(ctx.caller, ...)
           return s.CreateGrantResponse(grant_id=grant.grant_id)

   ``op`` is the operation's entry in gateway/core/operations.py (``from gateway.core import
   operations as ops``): it names the request in metrics, audit and rate limits and gives its
   permission action. Paths are relative to ``/v1.0/{project_id}/kms``; ``{name}`` is a path parameter and
   ``{name:path}`` one that may hold "/" (``ctx.path["name"]``). A 204 route has
   ``status=204`` and no response model, and its handler returns ``None``.
3. ``.venv/bin/python -m gateway.rest.openapi`` regenerates ``gateway/rest/openapi.json``
   (``tests/transport/test_openapi.py`` fails until the committed file matches).

``routing.discover()`` imports every ``routes_*`` module; handlers raise ``KmsError`` from the
core and never build error responses themselves.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.core import operations
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.pipeline import ClientGone, Failure, Pipeline, Services, http_body
from gateway.pipeline.audit_fields import clip, key_id_of, sequence_of
from gateway.pipeline.request_ids import new_request_id
from gateway.rest.auth import RestAuth
from gateway.rest.routing import Ctx, RestRoute, RouteTable, discover
from gateway.rest.schemas_common import RequestModel, parse_body

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a larger body is KMS.0203, refused before it is read
BODY_TIMEOUT_S = 30.0  # the whole body must arrive within this (a Content-Length may promise more than comes)
JSON_TYPE = (b"content-type", b"application/json;charset=utf-8")
CLOSE = (b"connection", b"close")
_NO_PATH_PARAMS: dict[str, str] = {}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def read_body(headers: Headers, receive: Receive) -> bytes:
    """The whole body (gateway/pipeline/http_body.py): BODY_TOO_LARGE over :data:`MAX_BODY_BYTES`,
    INVALID_JSON when it has not all arrived within :data:`BODY_TIMEOUT_S`, INVALID_PARAMETER for a
    Content-Length that is not a number."""
    declared = headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise KmsError(Err.INVALID_PARAMETER, "Invalid Content-Length.")
    try:
        return await http_body.read_body(
            receive, MAX_BODY_BYTES, BODY_TIMEOUT_S, None if declared is None else int(declared)
        )
    except http_body.BodyTooLarge:
        raise KmsError(Err.BODY_TOO_LARGE, f"The request body exceeds {MAX_BODY_BYTES} bytes.") from None
    except http_body.BodyTimedOut:
        msg = f"The request body did not arrive within {BODY_TIMEOUT_S:g} s (shorter than its Content-Length?)."
        raise KmsError(Err.INVALID_JSON, msg) from None


class RestExchange:
    """One REST request as the pipeline sees it (gateway/pipeline/contracts.py ``Exchange``)."""

    __slots__ = (
        "body",
        "body_read",
        "endpoint",
        "path_params",
        "project_id",
        "receive",
        "request_id",
        "route",
        "scope",
    )

    def __init__(self, endpoint: KmsEndpoint, scope: Scope, receive: Receive, request_id: str) -> None:
        self.endpoint = endpoint
        self.scope = scope
        self.receive = receive
        self.request_id = request_id
        self.route: RestRoute | None = None
        self.project_id = ""
        self.path_params = _NO_PATH_PARAMS
        self.body = b""
        self.body_read = False  # False when answering: the connection is closed (the rest was never read)

    async def authenticate(self) -> Caller:
        """The body first (an AK/SK signature covers it), then the token, signature or certificate."""
        headers = Headers(scope=self.scope)
        self.body = await read_body(headers, self.receive)
        self.body_read = True
        return await self.endpoint.auth.caller(self.scope, headers, self.body, self.project_id)

    def decode(self) -> RequestModel | None:
        model = self.route.request if self.route is not None else None
        return None if model is None else parse_body(model, self.body)

    async def execute(self, caller: Caller, message: Any) -> bytes:
        assert self.route is not None
        ep = self.endpoint
        result = await self.route.handler(
            Ctx(ep.kms, caller, self.path_params, self.request_id, ep.pipeline.dialect), message
        )
        return b"" if result is None else result.__pydantic_serializer__.to_json(result, exclude_none=True)

    def audit_fields(self, message: Any) -> tuple[str, str | None]:
        """The path's ``{key_id}``, else the body's; the body's ``sequence``."""
        return clip(self.path_params.get("key_id", "")) or key_id_of(message), sequence_of(message)


class KmsEndpoint:
    """ASGI app for everything that is not /healthz, /metrics or /openapi.json."""

    def __init__(self, services: Services, table: RouteTable) -> None:
        self.kms = services.kms
        self.table = table
        self.auth = RestAuth(services.auth, services.clock)
        self.pipeline: Pipeline = services.pipeline("rest")
        for route in table.routes:
            route.endpoint = self.pipeline.endpoint(route.operation)
        self._unknown = self.pipeline.endpoint(operations.UNKNOWN)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        exchange = RestExchange(self, scope, receive, request_id)
        try:
            route, exchange.project_id, exchange.path_params = self.table.match(scope["method"], scope["path"])
        except KmsError as exc:  # no such operation: refused before anything is read
            await self._send_error(send, self.pipeline.refuse(self._unknown, exchange, exc), request_id, close=True)
            return
        exchange.route = route
        assert route.endpoint is not None
        try:
            answer = await self.pipeline.run(route.endpoint, exchange)
        except ClientGone:
            return
        if isinstance(answer, Failure):
            await self._send_error(send, answer, request_id, close=not exchange.body_read)
        else:
            await _send(send, route.status, answer, request_id, None if route.response is None else JSON_TYPE)

    @staticmethod
    async def _send_error(send: Send, failure: Failure, request_id: str, close: bool) -> None:
        wire = failure.wire
        payload = json.dumps({"error": {"error_code": wire.code, "error_msg": wire.message}}).encode()
        retry_after = failure.retry_after
        extra = ((b"retry-after", str(retry_after).encode()),) if retry_after is not None else ()
        await _send(send, wire.status, payload, request_id, JSON_TYPE, close=close, extra=extra)


async def _send(
    send: Send,
    status: int,
    payload: bytes,
    request_id: str,
    content_type: tuple[bytes, bytes] | None,
    close: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    headers = [(b"x-request-id", request_id.encode()), *extra]
    if content_type is not None:
        headers.append(content_type)
        headers.append((b"content-length", str(len(payload)).encode()))
    if close:
        headers.append(CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class GatewayApp(Starlette):
    """Starlette for the plain endpoints; the KMS API (``/v1.0/...``) goes straight to its endpoint.

    The shortcut skips Starlette's router and error middlewares on the hot path: the endpoint
    matches its own routes and renders every error itself, so they would only add work.
    """

    def __init__(self, kms: KmsEndpoint, routes: list[Route]) -> None:
        super().__init__(routes=routes)
        self.kms = kms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1.0/"):
            await self.kms(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(services: Services) -> Starlette:
    groups = discover()
    table = RouteTable(groups)
    endpoint = KmsEndpoint(services, table)
    openapi_cache: list[bytes] = []

    async def healthz(request: Request) -> JSONResponse:
        """Readiness: 503 while the HSM is down (docs/recovery.md)."""
        if not services.health():
            return JSONResponse({"status": "unavailable", "hsm": "fault"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def livez(request: Request) -> JSONResponse:
        """Liveness: the process answers. An HSM fault heals without a restart, so it is not a liveness failure."""
        return JSONResponse({"status": "ok"})

    async def prometheus(request: Request) -> Response:
        body, content_type = services.metrics_text()  # all workers' samples when multi-process
        return Response(body, media_type=content_type)

    async def openapi(request: Request) -> Response:
        if not openapi_cache:
            from gateway.rest.openapi import render

            openapi_cache.append(render(groups).encode())
        return Response(openapi_cache[0], media_type="application/json")

    return GatewayApp(
        endpoint,
        routes=[
            Route("/healthz", healthz),
            Route("/livez", livez),
            Route("/metrics", prometheus),
            Route("/openapi.json", openapi),
            Route("/{path:path}", endpoint),  # any other path: KMS.0201 in the error envelope
        ],
    )
