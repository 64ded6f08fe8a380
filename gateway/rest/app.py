"""The HTTP listener: the KMS REST API, OpenAPI document, health and Prometheus metrics.

Stack: Starlette on uvicorn with httptools. Starlette is a small ASGI toolkit whose pieces are
plain classes and functions (no dependency injection, no implicit body parsing, no global
state), uvicorn with httptools is the fastest mainstream Python HTTP/1.1 server, and both are
already what the rest of the gateway runs on, so REST adds no new framework. The KMS API itself
is one plain ASGI endpoint (:class:`KmsEndpoint`): it reads the body under the size limit,
authenticates, validates with the pydantic models and calls the core, sending the response
itself — so a request costs one route-table lookup, one pydantic parse and one serialization,
with every table, schema and metrics child built once at start-up.

Layout of ``gateway/rest``:

* ``app.py`` — this factory and the request pipeline (body limit, auth, error envelope, metrics,
  ``X-Request-Id``); ``auth.py`` — X-Auth-Token and AK/SK (``signing.py``) to a caller;
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

       @routes.post("/create-grant", op="create_grant", request=s.CreateGrantRequest,
                    response=s.CreateGrantResponse, sdk="create_grant", action="kms:grant:create")
       async def create_grant(ctx: Ctx, body: s.CreateGrantRequest) -> s.CreateGrantResponse:
           grant = await ctx.kms.create_grant(ctx.caller, ...)
           return s.CreateGrantResponse(grant_id=grant.grant_id)

   Paths are relative to ``/v1.0/{project_id}/kms``; ``{name}`` is a path parameter and
   ``{name:path}`` one that may hold "/" (``ctx.path["name"]``). A 204 route has
   ``status=204`` and no response model, and its handler returns ``None``.
3. ``.venv/bin/python -m gateway.rest.openapi`` regenerates ``gateway/rest/openapi.json``
   (``tests/test_openapi.py`` fails until the committed file matches).

``routing.discover()`` imports every ``routes_*`` module; handlers raise ``KmsError`` from the
core and never build error responses themselves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.app.runtime import Runtime
from gateway.audit.trail import AuditEvent
from gateway.core import validate
from gateway.core.errors import Err, Kind, KmsError
from gateway.core.gate import audit_key_id, audit_sequence
from gateway.core.model import Caller
from gateway.core.ratelimit import RateLimited
from gateway.rest.auth import RestAuth
from gateway.rest.routing import Ctx, RestRoute, RouteTable, discover
from gateway.rest.schemas_common import parse_body
from gateway.telemetry import metrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a larger body is KMS.0203, refused before it is read
BODY_TIMEOUT_S = 30.0  # the whole body must arrive within this (a Content-Length may promise more than comes)
JSON_TYPE = (b"content-type", b"application/json;charset=utf-8")
CLOSE = (b"connection", b"close")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody to answer."""


class _BodyTooLarge(KmsError):
    def __init__(self) -> None:
        super().__init__(Err.BODY_TOO_LARGE, f"The request body exceeds {MAX_BODY_BYTES} bytes.")


async def read_body(
    headers: Headers, receive: Receive, limit: int = MAX_BODY_BYTES, timeout: float | None = None
) -> bytes:
    """The whole body, or BODY_TOO_LARGE as soon as it is known to exceed ``limit``.

    A declared Content-Length over the limit is refused before anything is read; a chunked body
    is read only up to the limit. A body that has not all arrived after ``timeout`` seconds
    (default :data:`BODY_TIMEOUT_S`) is INVALID_JSON: a client whose Content-Length promises more
    than it sends, or whose chunked body never ends, gets an answer instead of holding the
    connection forever. The caller closes the connection after refusing, so the rest is never read.
    """
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise KmsError(Err.INVALID_PARAMETER, "Invalid Content-Length.")
        if int(declared) > limit:
            raise _BodyTooLarge()
    seconds = BODY_TIMEOUT_S if timeout is None else timeout
    try:
        async with asyncio.timeout(seconds):
            return await _receive_body(receive, limit)
    except TimeoutError:
        msg = f"The request body did not arrive within {seconds:g} s (shorter than its Content-Length?)."
        raise KmsError(Err.INVALID_JSON, msg) from None


async def _receive_body(receive: Receive, limit: int) -> bytes:
    first = await receive()
    if first["type"] == "http.disconnect":
        raise ClientGone
    body = first.get("body", b"")
    if not first.get("more_body", False):
        if len(body) > limit:
            raise _BodyTooLarge()
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Seen:
    """What the pipeline learned of a request so far (for its audit event)."""

    __slots__ = ("audited", "body", "caller", "parse_tried", "parsed", "path_params")

    def __init__(self) -> None:
        self.caller: Caller | None = None
        self.parsed: Any = None
        self.path_params: dict[str, str] = {}
        self.body = b""
        self.parse_tried = False  # parse_body ran (its result or error is final: not parsed again)
        self.audited = False


class KmsEndpoint:
    """ASGI app for everything that is not /healthz, /metrics or /openapi.json."""

    def __init__(self, rt: Runtime, table: RouteTable) -> None:
        self.rt = rt
        self.table = table
        self.auth = RestAuth(rt.auth, rt.kms.clock)
        self.gate = rt.gate
        for route in table.routes:
            route.metric = metrics.REQUEST_SECONDS.labels(route.op, "rest")
        self._unknown_metric = metrics.REQUEST_SECONDS.labels("unknown", "rest")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        request_id = os.urandom(16).hex()
        route: RestRoute | None = None
        req = _Seen()
        body_read = False
        try:
            route, project_id, req.path_params = self.table.match(scope["method"], scope["path"])
            headers = Headers(scope=scope)
            req.body = await read_body(headers, receive)
            body_read = True
            req.caller = caller = await self.auth.caller(scope, headers, req.body, project_id)
            self.gate.admit(caller, route.op)  # before parsing: a refused request costs no more work
            parsed = None
            if route.request is not None:
                req.parse_tried = True
                req.parsed = parsed = parse_body(route.request, req.body)
                validate.sequence(parsed.sequence)
            result = await route.handler(Ctx(self.rt, caller, req.path_params, request_id), parsed)
            payload = b"" if result is None else result.__pydantic_serializer__.to_json(result, exclude_none=True)
            if self.rt.audit is not None:  # fail closed: no answer leaves without its audit line
                req.audited = True
                self._audit(route, req, request_id, "OK")
            await _send(send, route.status, payload, request_id, None if result is None else JSON_TYPE)
        except ClientGone:
            return
        except KmsError as exc:
            await self._error(send, route, req, exc, request_id, close=not body_read)
        except Exception:
            log.exception("unhandled error", extra={"op": route.op if route else "unknown", "transport": "rest"})
            await self._error(send, route, req, KmsError(Err.INTERNAL), request_id, close=not body_read)
        finally:
            (route.metric if route is not None else self._unknown_metric).observe(time.perf_counter() - start)

    def _audit(self, route: RestRoute | None, req: _Seen, request_id: str, result: str) -> None:
        """One audit event, written before the response leaves (raises if the log cannot take it)."""
        assert self.rt.audit is not None
        parsed, caller = req.parsed, req.caller
        # Refused after authentication but before parsing (permission, rate limit): the key id is still
        # worth recording. Never for an unauthenticated request: parsing its body would be free work.
        refused_early = parsed is None and not req.parse_tried and caller is not None
        if refused_early and route is not None and route.request is not None and req.body:
            try:
                parsed = parse_body(route.request, req.body)
            except Exception:  # best effort: a bad body simply names no key
                parsed = None
        self.rt.audit.record(
            AuditEvent(
                transport="rest",
                op=route.op if route else "unknown",
                action=route.action if route else "",
                principal=caller.principal if caller else "",
                project_id=caller.project_id if caller else "",
                key_id=req.path_params.get("key_id", "")[:64] or audit_key_id(parsed),
                result=result,
                request_id=request_id,
                sequence=audit_sequence(parsed),
            )
        )

    async def _error(
        self, send: Send, route: RestRoute | None, req: _Seen, exc: KmsError, request_id: str, close: bool
    ) -> None:
        wire = self.rt.dialect.render(exc)
        if self.rt.audit is not None and not req.audited:
            req.audited = True
            try:
                self._audit(route, req, request_id, wire.code)
            except Exception:  # the error is answered anyway; a fault of the trail itself is a 500
                log.exception("audit write failed", extra={"op": route.op if route else "unknown"})
                exc = KmsError(Err.INTERNAL)
                wire = self.rt.dialect.render(exc)
        metrics.REQUEST_ERRORS.labels(route.op if route else "unknown", "rest", wire.code).inc()
        if exc.err.kind is Kind.INTERNAL:
            log.error("request failed", extra={"op": route.op if route else "unknown", "code": wire.code})
        payload = json.dumps({"error": {"error_code": wire.code, "error_msg": wire.message}}).encode()
        extra = ((b"retry-after", str(exc.retry_after).encode()),) if isinstance(exc, RateLimited) else ()
        await _send(send, wire.status, payload, request_id, JSON_TYPE, close=close, extra=extra)


async def _send(
    send: Send,
    status: int,
    payload: bytes,
    request_id: str,
    content_type: tuple | None,
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == "http" and scope["path"].startswith("/v1.0/"):
            await self.kms(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)  # type: ignore[arg-type]


def create_app(rt: Runtime) -> Starlette:
    groups = discover()
    table = RouteTable(groups)
    endpoint = KmsEndpoint(rt, table)
    openapi_cache: list[bytes] = []

    async def healthz(request: Request) -> JSONResponse:
        """Readiness: 503 while the HSM is down (gateway/hsm/health.py, docs/recovery.md)."""
        if not rt.executor.healthy:
            return JSONResponse({"status": "unavailable", "hsm": "fault"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def livez(request: Request) -> JSONResponse:
        """Liveness: the process answers. An HSM fault heals without a restart, so it is not a liveness failure."""
        return JSONResponse({"status": "ok"})

    async def prometheus(request: Request) -> Response:
        body, content_type = metrics.render()  # all workers' samples when multi-process
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
