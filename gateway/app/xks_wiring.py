"""``[xks]`` to the running endpoint: the core's XksService, the XKS ASGI app, and the HTTP
listener's dispatcher that hands it every path holding ``/kms/xks/v1`` (transports never import
each other, so the two apps meet here, in the composition root) — or, with ``[xks] listen``, the
app of a listener of its own (gateway/app/server.py, ``start_xks``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from importlib import metadata
from typing import Any

from gateway.app.config import Config, XksConfig
from gateway.app.listen import split_host_port
from gateway.core.xks import XksService, XksSettings
from gateway.pipeline import ErrorEnvelope, Services
from gateway.rest.protocol import Headers, envelope_of
from gateway.xks import ENVELOPE, PATH_MARKER, XksEndpoint, create_xks_app

MAX_HEALTH_CACHE_S = 60.0  # the specification: a cached health result is never older than a minute

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class XksConfigError(ValueError):
    """The [xks] section cannot be served as configured; the message says what to fix."""


def cert_cns(cfg: XksConfig) -> tuple[str, ...]:
    value = cfg.client_cert_cn
    names = [value] if isinstance(value, str) else list(value)
    return tuple(str(n) for n in names if str(n))


def settings(cfg: XksConfig) -> XksSettings:
    """The core's settings from [xks]; XksConfigError for a value the endpoint cannot serve."""
    if not 0 <= cfg.health_cache_s <= MAX_HEALTH_CACHE_S:
        raise XksConfigError(f"[xks] health_cache_s must be between 0 and {MAX_HEALTH_CACHE_S:g}")
    if isinstance(cfg.fleet_size, bool) or not isinstance(cfg.fleet_size, int) or cfg.fleet_size < 1:
        raise XksConfigError("[xks] fleet_size must be a whole number, at least 1")
    if cfg.max_clock_skew_s <= 0:
        raise XksConfigError("[xks] max_clock_skew_s must be positive")
    if cfg.hsm_start_timeout_ms < 0:
        raise XksConfigError("[xks] hsm_start_timeout_ms must be 0 (no deadline) or positive")
    if not isinstance(cfg.regions, list) or not all(isinstance(r, str) and r for r in cfg.regions):
        raise XksConfigError('[xks] regions must be a list of region names, e.g. ["us-east-1"]')
    if not isinstance(cfg.client_cert_cn, str | list):
        raise XksConfigError("[xks] client_cert_cn must be a subject CN or a list of them")
    try:
        version = metadata.version("kmsgw")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return XksSettings(
        fleet_size=cfg.fleet_size,
        health_cache_s=float(cfg.health_cache_s),
        hsm_start_timeout_s=cfg.hsm_start_timeout_ms / 1000 if cfg.hsm_start_timeout_ms else None,
        proxy_vendor="kmsgw",
        proxy_model=f"kmsgw {version} XKS proxy",
    )


def check(cfg: Config) -> None:
    """Refuse a bad [xks] section at start-up (before the token or any worker opens)."""
    if cfg.xks.enabled:
        settings(cfg.xks)
        if cert_cns(cfg.xks) and (not cfg.tls.enabled or cfg.tls.client_auth == "none"):
            raise XksConfigError('[xks] client_cert_cn needs [tls] with client_auth = "optional" or "required"')
        if cfg.xks.listen:
            _check_listen(cfg)


def _check_listen(cfg: Config) -> None:
    try:
        port = split_host_port(cfg.xks.listen)[1]
    except ValueError:
        raise XksConfigError(f"[xks] listen must be HOST:PORT, not {cfg.xks.listen!r}") from None
    if not 0 <= port <= 65535:
        raise XksConfigError(f"[xks] listen: no such port {port}")
    for name, other in (("rest_listen", cfg.rest_listen), ("grpc_listen", cfg.grpc_listen)):
        if port and split_host_port(other)[1] == port:  # SO_REUSEPORT would mix the two listeners' connections
            raise XksConfigError(f"[xks] listen {cfg.xks.listen!r} takes the port of {name} ({other!r})")


class HttpMux:
    """The HTTP listener's app: XKS paths to the XKS endpoint, everything else to the REST app."""

    def __init__(self, rest: Asgi, xks: Asgi) -> None:
        self.rest = rest
        self.xks = xks

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and PATH_MARKER in scope["path"]:
            await self.xks(scope, receive, send)
        else:
            await self.rest(scope, receive, send)

    def envelope_for(self, path: str, headers: Headers) -> ErrorEnvelope | None:
        """A head the HTTP parser refused on an XKS path is answered in the XKS error shape."""
        return ENVELOPE if PATH_MARKER in path else envelope_of(self.rest, path, headers)


def http_app(cfg: Config, services: Services, rest: Asgi) -> Asgi:
    """The REST app alone, or with the XKS endpoint beside it when [xks] is enabled without a
    listener of its own."""
    if not cfg.xks.enabled or cfg.xks.listen:
        return rest
    return HttpMux(rest, endpoint(cfg, services))


def endpoint(cfg: Config, services: Services) -> XksEndpoint:
    """The XKS endpoint of [xks] over this process's core."""
    kms = services.kms
    xks = XksService(kms.store, kms.hsm, kms.key_access, kms.clock, settings(cfg.xks))
    return create_xks_app(
        services,
        xks,
        regions=cfg.xks.regions,
        max_clock_skew_s=float(cfg.xks.max_clock_skew_s),
        client_cert_cns=cert_cns(cfg.xks),
        log_requests=bool(cfg.xks.log_requests),
    )
