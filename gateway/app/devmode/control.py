"""The dev control surface: a loopback HTTP listener of dev and test gateways, never of `kmsgw serve`.

It is how a test suite in any language (and the pytest plugin in its default subprocess mode)
moves the gateway's clock, breaks and heals its HSM, mints projects and reads the audit trail,
without sharing a process with it. Every route but ``GET /v1/health`` needs the control token
(``Authorization: Bearer <KMSGW_CONTROL_TOKEN>``), which only the env file and the ready line carry.
JSON in, JSON out; docs/testing-with-kmsgw.md lists the routes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gateway.app.devmode.context import DevContext
from gateway.app.devmode.extensions import EXTENSIONS
from gateway.core.errors import KmsError
from gateway.core.model import KeySpec

Handler = Callable[[Request], Awaitable[Response]]
MAX_CLOCK_STEP_S = 100 * 365 * 86400


class BadRequest(ValueError):
    pass


def build(ctx: DevContext) -> Starlette:
    """The control app of one dev gateway."""

    def authed(handler: Callable[[Request], Awaitable[Any]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), ctx.control_token.encode()):
                return JSONResponse({"error": "control token missing or wrong"}, status_code=401)
            try:
                return JSONResponse(await handler(request))
            except ValueError as exc:  # BadRequest too
                return JSONResponse({"error": str(exc)}, status_code=400)
            except KmsError as exc:
                return JSONResponse({"error": exc.message, "code": exc.err.name}, status_code=409)

        return endpoint

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise BadRequest("the body must be JSON") from None
        if not isinstance(value, dict):
            raise BadRequest("the body must be a JSON object")
        return value

    async def health(_request: Request) -> Response:
        return JSONResponse({"ready": ctx.executor.healthy, "hsm": ctx.executor.healthy, **ctx.endpoints})

    async def projects(request: Request) -> dict[str, Any]:
        b = await body(request)
        return await ctx.new_project(
            b.get("project_id"),
            allow=b.get("allow"),
            token_ttl=int(b.get("token_ttl", 10 * 365 * 86400)),
            credentials=bool(b.get("credentials", True)),
        )

    async def tokens(request: Request) -> dict[str, Any]:
        b = await body(request)
        allow = b.get("allow")
        return ctx.rt.auth.create_token(
            _project(b), int(b.get("ttl", 3600)), actions=frozenset(allow) if allow is not None else None
        )

    async def credentials(request: Request) -> dict[str, Any]:
        b = await body(request)
        allow = b.get("allow")
        return await ctx.rt.auth.create_credentials(_project(b), None, frozenset(allow) if allow is not None else None)

    def clock_state() -> dict[str, Any]:
        return {"now": ctx.clock.now(), "offset": ctx.clock.offset}

    async def clock(_request: Request) -> dict[str, Any]:
        return clock_state()

    async def advance(request: Request) -> dict[str, Any]:
        seconds = (await body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_CLOCK_STEP_S:
            raise BadRequest("seconds must be a number from 0 to 100 years (the clock only moves forward)")
        ctx.clock.advance(float(seconds))
        return {**clock_state(), "swept": await ctx.sweep()}

    async def reset_clock(_request: Request) -> dict[str, Any]:
        ctx.clock.reset()
        return clock_state()

    async def sweep(_request: Request) -> dict[str, Any]:
        return await ctx.sweep()

    async def faults(_request: Request) -> dict[str, Any]:
        return ctx.faults.state()

    async def set_faults(request: Request) -> dict[str, Any]:
        b = await body(request)
        switch = ctx.faults
        if "latency_ms" in b:
            switch.set_latency(float(b["latency_ms"]))
        if "hsm_unavailable" in b:
            if b["hsm_unavailable"]:
                seconds = b.get("seconds")
                switch.hsm_unavailable(None if seconds is None else float(seconds))
            else:
                switch.hsm_available()
        return switch.state()

    async def reset_faults(_request: Request) -> dict[str, Any]:
        ctx.faults.reset()
        return ctx.faults.state()

    async def close_sessions(_request: Request) -> dict[str, Any]:
        await ctx.executor.close_sessions()
        return {"closed": True}

    async def audit(request: Request) -> dict[str, Any]:
        since = int(request.query_params.get("since", "0"))
        project = request.query_params.get("project_id")
        return await asyncio.to_thread(_audit_events, ctx, since, project)

    async def capabilities(_request: Request) -> dict[str, Any]:
        hsm = ctx.rt.kms.hsm
        specs = {spec.value: (await hsm.spec_support(spec)).available for spec in KeySpec}
        oaep = {
            f"RSAES_OAEP_{h.upper().replace('SHA', 'SHA_')}": await hsm.oaep_supported(h) for h in ("sha1", "sha256")
        }
        return {"key_specs": specs, "wrapping_algorithms": oaep, "error_dialect": ctx.rt.config.error_dialect}

    routes: list[BaseRoute] = [
        Route("/v1/health", health),
        Route("/v1/projects", authed(projects), methods=["POST"]),
        Route("/v1/tokens", authed(tokens), methods=["POST"]),
        Route("/v1/credentials", authed(credentials), methods=["POST"]),
        Route("/v1/clock", authed(clock)),
        Route("/v1/clock/advance", authed(advance), methods=["POST"]),
        Route("/v1/clock/reset", authed(reset_clock), methods=["POST"]),
        Route("/v1/sweep", authed(sweep), methods=["POST"]),
        Route("/v1/faults", authed(faults)),
        Route("/v1/faults", authed(set_faults), methods=["POST"]),
        Route("/v1/faults/reset", authed(reset_faults), methods=["POST"]),
        Route("/v1/faults/close-sessions", authed(close_sessions), methods=["POST"]),
        Route("/v1/audit", authed(audit)),
        Route("/v1/capabilities", authed(capabilities)),
    ]
    for extension in EXTENSIONS:
        routes.append(Mount(f"/v1/{extension.name}", routes=extension.routes(ctx)))
    return Starlette(routes=routes)


def _project(body: dict[str, Any]) -> str:
    project = body.get("project_id")
    if not isinstance(project, str) or not project:
        raise BadRequest("project_id is required")
    return project


def _audit_events(ctx: DevContext, since: int, project: str | None) -> dict[str, Any]:
    """Audit lines from index ``since`` on (optionally one project's), and the index to ask from next."""
    path = ctx.rt.config.audit_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    events = []
    for line in lines[since:]:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if project is None or event.get("project_id") == project:
            events.append(event)
    return {"events": events, "next": len(lines)}
