"""The gateway's own ``/metrics``, scraped at the edges of a window, to split where a call's time went.

Per request: the handler time (``kmsgw_request_seconds`` of this transport) and the token time
(``kmsgw_hsm_op_seconds``, the time jobs held the HSM session, background probes left out). The
client sees handler + transport + its own work; so client+transport = client mean - handler mean,
gateway = handler - token. Means over the window, from the histograms' sums and counts.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

_LINE = re.compile(r"^(kmsgw_request_seconds|kmsgw_hsm_op_seconds)_(sum|count)\{([^}]*)\}\s+(\S+)$")
_BACKGROUND_HSM_OPS = frozenset({"probe", "list_objects", "mechanisms"})


def scrape(rest_url: str | None, timeout: float = 10.0) -> dict[str, float] | None:
    """Sums and counts by series (``request:grpc:sum``, ``hsm:count``...); None when unavailable."""
    if not rest_url:
        return None
    try:
        with urllib.request.urlopen(rest_url.rstrip("/") + "/metrics", timeout=timeout) as response:  # noqa: S310
            text = response.read().decode()
    except (OSError, urllib.error.URLError, ValueError):
        return None
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        name, kind, labels, value = m.groups()
        lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name == "kmsgw_request_seconds":
            key = f"request:{lab.get('transport', '')}:{kind}"
        elif lab.get("op") in _BACKGROUND_HSM_OPS:
            continue
        else:
            key = f"hsm:{kind}"
        out[key] = out.get(key, 0.0) + float(value)
    return out


def split(
    before: dict[str, float] | None, after: dict[str, float] | None, transport: str, client_mean_ms: float | None
) -> dict[str, Any] | None:
    """Milliseconds per request: client+transport, gateway (handler minus token), token, and the handler."""
    if before is None or after is None or client_mean_ms is None:
        return None

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    requests = delta(f"request:{transport}:count")
    if requests <= 0:
        return None
    handler = 1000.0 * delta(f"request:{transport}:sum") / requests
    token = 1000.0 * delta("hsm:sum") / requests
    return {
        "requests_seen": int(requests),
        "handler": round(handler, 4),
        "client_transport": round(max(0.0, client_mean_ms - handler), 4),
        "gateway": round(max(0.0, handler - token), 4),
        "token": round(token, 4),
    }


def gateway_version(rest_url: str | None, timeout: float = 10.0) -> str | None:
    """The version the gateway states in its OpenAPI document (``info.version``), when it serves one."""
    if not rest_url:
        return None
    try:
        with urllib.request.urlopen(rest_url.rstrip("/") + "/openapi.json", timeout=timeout) as response:  # noqa: S310
            import json

            version = json.loads(response.read()).get("info", {}).get("version")
    except (OSError, urllib.error.URLError, ValueError, AttributeError):
        return None
    return str(version) if version else None
