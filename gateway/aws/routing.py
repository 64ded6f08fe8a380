"""``X-Amz-Target: TrentService.<Operation>`` to its handler and its catalog entry.

Each ``ops_*.py`` module registers its handlers with :func:`handles`; a handler turns the checked
request members into a call of the AWS side of the core and answers the response members (bytes for
blobs, epoch seconds for times). Importing :mod:`gateway.aws.ops` imports every group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.core.aws import AwsService
from gateway.core.aws.directory import AwsIdentity
from gateway.core.operations import Operation

TARGET_PREFIX = "TrentService."
Handler = Callable[[AwsService, AwsIdentity, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class AwsRoute:
    name: str  # AWS's operation name
    operation: Operation
    handler: Handler


ROUTES: dict[str, AwsRoute] = {}


def handles(name: str, operation: Operation) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in ROUTES:
            raise RuntimeError(f"two handlers for {name}")
        ROUTES[name] = AwsRoute(name, operation, handler)
        return handler

    return register


def match(target: str) -> AwsRoute | None:
    if not target.startswith(TARGET_PREFIX):
        return None
    return ROUTES.get(target[len(TARGET_PREFIX) :])
