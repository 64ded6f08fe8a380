"""Route groups: how an operation is declared once and then served, validated and documented.

A route group is a module ``gateway/rest/routes_<group>.py`` that defines ``routes = RouteGroup(...)``
and registers its operations with ``@routes.post(...)`` / ``@routes.get(...)`` /
``@routes.delete(...)``. The application (``app.py``) and the OpenAPI generator (``openapi.py``)
both find every such module through :func:`discover`, so adding a group never touches a shared
file. A handler receives a :class:`Ctx` (the authenticated caller, the core, path parameters) and
the request body already parsed into its pydantic model, calls the core, and returns the response
model (or ``None`` for a 204). It holds no business rule and catches no :class:`KmsError`: the
request pipeline (gateway/pipeline) renders every error through the dialect.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.core.operations import Operation
from gateway.pipeline import Endpoint, ErrorDialect
from gateway.rest.schemas_common import RequestModel

if TYPE_CHECKING:
    from gateway.core.service import Kms

Handler = Callable[["Ctx", Any], Awaitable[BaseModel | None]]

BASE = "/v1.0/{project_id}/kms"
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)(:path)?\}")
_PROJECT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Ctx:
    """What a handler may use: the core, the caller, the path parameters, the request id, and the
    error dialect (for the per-item errors of a batch answer)."""

    __slots__ = ("caller", "dialect", "kms", "path", "request_id")

    def __init__(
        self, kms: Kms, caller: Caller, path: Mapping[str, str], request_id: str, dialect: ErrorDialect
    ) -> None:
        self.kms = kms
        self.caller = caller
        self.path = path
        self.request_id = request_id
        self.dialect = dialect


@dataclass(eq=False)
class RestRoute:
    """One operation: ``method`` + ``path`` (after ``/v1.0/{project_id}/kms``) → ``handler``.

    ``request`` is the body model (``None``: the operation takes no body, as the GET ones);
    ``response`` the model of a success (``None`` with ``status=204``: an empty body).
    ``operation`` is the catalog entry (gateway/core/operations.py): its name is the OpenAPI
    ``operationId`` and names the request in metrics, audit lines and rate limits; its action is
    the permission a caller needs. ``sdk`` is the method name in ``huaweicloudsdkkms``
    (documentation only).
    """

    method: str
    path: str
    operation: Operation
    handler: Handler
    request: type[RequestModel] | None
    response: type[BaseModel] | None
    status: int = 200
    summary: str = ""
    description: str = ""
    sdk: str = ""
    extension: bool = False  # not in the provider's API: a gateway extension
    group: str = ""
    pattern: re.Pattern[str] | None = field(default=None, repr=False)
    endpoint: Endpoint | None = field(default=None, repr=False)  # the pipeline's handle, bound by the app

    @property
    def op(self) -> str:
        """The operation's catalog name."""
        return self.operation.name

    @property
    def action(self) -> str:
        """The permission action the operation needs."""
        return self.operation.action

    @property
    def full_path(self) -> str:
        """The path as OpenAPI writes it (``{key:path}`` becomes ``{key}``)."""
        return BASE + _PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    @property
    def path_params(self) -> list[str]:
        return [m.group(1) for m in _PARAM.finditer(self.path)]


class RouteGroup:
    """The operations of one group, in declaration order."""

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description
        self.routes: list[RestRoute] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        op: Operation,
        request: type[RequestModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        sdk: str = "",
        extension: bool = False,
    ) -> Callable[[Handler], Handler]:
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        if not isinstance(op, Operation):
            raise TypeError(f"{path}: op must be an entry of gateway/core/operations.py, not {op!r}")
        if (response is None) != (status == 204):
            raise ValueError(f"{op.name}: a 204 route has no response model, any other route has one")

        def register(fn: Handler) -> Handler:
            self.routes.append(
                RestRoute(
                    method=method.upper(),
                    path=path,
                    operation=op,
                    handler=fn,
                    request=request,
                    response=response,
                    status=status,
                    summary=summary,
                    description=(fn.__doc__ or "").strip(),
                    sdk=sdk,
                    extension=extension,
                    group=self.name,
                )
            )
            return fn

        return register

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def discover() -> list[RouteGroup]:
    """Every ``gateway.rest.routes_*`` module's ``routes``, in module-name order."""
    import gateway.rest as pkg

    groups = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("routes_"):
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            group = getattr(module, "routes", None)
            if not isinstance(group, RouteGroup):
                raise RuntimeError(f"{module.__name__} must define `routes = RouteGroup(...)`")
            groups.append(group)
    return groups


def _compile(path: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PARAM.finditer(path):
        out.append(re.escape(path[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out))


class RouteTable:
    """Method + path → route, built once: a dict for fixed paths, then patterns in order."""

    def __init__(self, groups: Iterable[RouteGroup]) -> None:
        self.routes: list[RestRoute] = []
        self._exact: dict[tuple[str, str], RestRoute] = {}
        self._patterns: list[RestRoute] = []
        seen: dict[str, RestRoute] = {}
        for group in groups:
            for route in group.routes:
                key = f"{route.method} {route.path}"
                if key in seen or route.op in {r.op for r in self.routes}:
                    raise RuntimeError(f"REST route declared twice: {key} ({route.op})")
                seen[key] = route
                self.routes.append(route)
                if "{" in route.path:
                    route.pattern = _compile(route.path)
                    self._patterns.append(route)
                else:
                    self._exact[(route.method, route.path)] = route
        # Fixed segments win over parameters ("/tags" before "/{key_id}/tags"): longest literal first.
        self._patterns.sort(key=lambda r: -len(_PARAM.sub("", r.path)))

    def match(self, method: str, path: str) -> tuple[RestRoute, str, dict[str, str]]:
        """(route, project_id, path parameters) for a decoded request path, or INVALID_URL."""
        if not path.startswith("/v1.0/"):
            raise KmsError(Err.INVALID_URL)
        project_id, _, rest = path[6:].partition("/")
        if not rest.startswith("kms/") or not _PROJECT_ID.fullmatch(project_id):
            raise KmsError(Err.INVALID_URL)
        tail = rest[3:]
        route = self._exact.get((method, tail))
        if route is not None:
            return route, project_id, {}
        for route in self._patterns:
            if route.method == method:
                m = route.pattern.fullmatch(tail)  # type: ignore[union-attr]
                if m:
                    return route, project_id, m.groupdict()
        raise KmsError(Err.INVALID_URL)
