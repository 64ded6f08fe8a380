"""What a transport adds to a dev gateway: its endpoint lines and its control routes.

The dev gateway (`kmsgw dev`, the pytest plugin) knows the KMS REST and gRPC listeners. A transport
added later registers a :class:`DevExtension` from the composition root, and the dev gateway then
writes its variables into ``.kmsgw-dev.env`` and the ready line (an endpoint URL, test credentials)
and serves its routes on the control listener, under ``/v1/<name>/``. For example an AWS KMS JSON
transport would contribute ``KMSGW_AWS_ENDPOINT`` and a test AK/SK pair, and a moto-style reset
route. Nothing here runs in `kmsgw serve`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from gateway.app.devmode.context import DevContext


def _no_env(_ctx: DevContext) -> dict[str, str]:
    return {}


def _no_routes(_ctx: DevContext) -> list[BaseRoute]:
    return []


@dataclass(frozen=True)
class DevExtension:
    name: str  # a path segment: its routes are mounted at /v1/<name>/ on the control listener
    env: Callable[[DevContext], dict[str, str]] = _no_env  # extra NAME=value lines, once the gateway serves
    routes: Callable[[DevContext], list[BaseRoute]] = _no_routes
    ready: Callable[[DevContext], dict[str, object]] = field(default=lambda _ctx: {})  # extra ready-line fields


EXTENSIONS: list[DevExtension] = []


def register(extension: DevExtension) -> None:
    """Add a transport's contribution (idempotent by name: a re-registration replaces it)."""
    EXTENSIONS[:] = [e for e in EXTENSIONS if e.name != extension.name] + [extension]
