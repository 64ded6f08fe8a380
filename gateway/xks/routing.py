"""XKS paths: ``/{prefix}/kms/xks/v1/health`` and ``/{prefix}/kms/xks/v1/keys/{xksKeyId}/{operation}``."""

from __future__ import annotations

from typing import NamedTuple

from gateway.core import operations as ops
from gateway.core.operations import Operation
from gateway.core.xks.names import URI_PATH_SUFFIX, XKS_KEY_ID

PATH_MARKER = URI_PATH_SUFFIX  # any path holding it belongs to the XKS endpoint (gateway/app/http_mux.py)
_KEY_OPERATIONS = {"metadata": ops.XKS_GET_KEY_METADATA, "encrypt": ops.XKS_ENCRYPT, "decrypt": ops.XKS_DECRYPT}
OPERATIONS = (ops.XKS_GET_HEALTH_STATUS, *_KEY_OPERATIONS.values())


class XksRoute(NamedTuple):
    uri_prefix: str  # "" or "/a[/b...]", to look up as a keystore
    operation: Operation
    xks_key_id: str  # "" for health


def match(path: str) -> XksRoute | None:
    """The route a path names, or None (InvalidUriPathException) for any other path."""
    at = path.find(PATH_MARKER + "/")
    if at < 0:
        return None
    prefix, rest = path[:at], path[at + len(PATH_MARKER) :]
    if rest == "/health":
        return XksRoute(prefix, ops.XKS_GET_HEALTH_STATUS, "")
    parts = rest.split("/")  # "", "keys", id, operation
    if len(parts) == 4 and parts[1] == "keys" and XKS_KEY_ID.fullmatch(parts[2]) and parts[3] in _KEY_OPERATIONS:
        return XksRoute(prefix, _KEY_OPERATIONS[parts[3]], parts[2])
    return None
