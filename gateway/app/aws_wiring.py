"""``[aws]`` to the running endpoint: the AWS side of the core and the AWS KMS API's ASGI app, in front
of the other HTTP apps. A request carrying ``X-Amz-Target`` (and, on a test gateway, ``/moto-api/``)
goes to the AWS endpoint; everything else to the REST/XKS apps (transports never import each other,
so they meet here, in the composition root). `kmsgw dev` and the pytest plugin always serve it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from gateway.app.config import Config
from gateway.app.devmode.extensions import DevExtension
from gateway.app.devmode.extensions import register as register_dev
from gateway.aws import RESET_PATH, create_aws_app
from gateway.aws.errors import AwsDialect, error_body
from gateway.core.aws import AwsService
from gateway.pipeline import ErrorEnvelope, Services
from gateway.rest.protocol import Headers, envelope_of

if TYPE_CHECKING:
    from gateway.app.devmode.context import DevContext

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
# A request head the HTTP parser refuses with X-Amz-Target gets AWS's error shape too.
ENVELOPE = ErrorEnvelope(AwsDialect(), error_body, b"application/x-amz-json-1.1", b"x-amzn-requestid")


class AwsConfigError(ValueError):
    """The [aws] section cannot be served as configured."""


def check(cfg: Config) -> None:
    if cfg.aws.max_clock_skew_s <= 0:
        raise AwsConfigError("[aws] max_clock_skew_s must be positive")
    if cfg.aws.hsm_start_timeout_ms < 0:
        raise AwsConfigError("[aws] hsm_start_timeout_ms must be 0 (no deadline) or positive")


class AwsMux:
    """Requests with ``X-Amz-Target`` (and the test gateway's reset) to the AWS app, the rest onwards."""

    def __init__(self, aws: Asgi, other: Asgi, *, test_mode: bool) -> None:
        self.aws = aws
        self.other = other
        self.test_mode = test_mode

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._ours(scope["path"], scope["headers"]):
            await self.aws(scope, receive, send)
        else:
            await self.other(scope, receive, send)

    def _ours(self, path: str, headers: Headers) -> bool:
        return any(name == b"x-amz-target" for name, _ in headers) or (self.test_mode and path == RESET_PATH)

    def envelope_for(self, path: str, headers: Headers) -> ErrorEnvelope | None:
        return ENVELOPE if self._ours(path, headers) else envelope_of(self.other, path, headers)


def http_app(cfg: Config, services: Services, other: Asgi) -> Asgi:
    """``other`` alone, or with the AWS KMS API in front when [aws] is on (always on a test gateway)."""
    test_mode = services.kms.settings.test_mode
    if not (cfg.aws.enabled or test_mode):
        return other
    timeout = cfg.aws.hsm_start_timeout_ms / 1000 if cfg.aws.hsm_start_timeout_ms else None
    aws = AwsService(services.kms, test_mode=test_mode, hsm_start_timeout_s=timeout)
    endpoint = create_aws_app(services, aws, max_skew_s=float(cfg.aws.max_clock_skew_s))
    return AwsMux(endpoint, other, test_mode=test_mode)


def _dev_env(ctx: DevContext) -> dict[str, str]:
    """The dev gateway's env-file lines: the endpoint AWS clients take, and its test credential."""
    url = str(ctx.endpoints.get("rest_url", ""))
    return {
        "KMSGW_AWS_ENDPOINT": url,
        "AWS_ENDPOINT_URL_KMS": url,  # botocore (boto3, the AWS CLI) reads it for the kms service
        "KMSGW_AWS_ACCESS_KEY_ID": "FOOBARKEY",
        "KMSGW_AWS_SECRET_ACCESS_KEY": "FOOBARSECRET",
        "KMSGW_AWS_ACCOUNT_ID": "123456789012",
    }


register_dev(DevExtension("aws", env=_dev_env, ready=lambda ctx: {"aws_endpoint": ctx.endpoints.get("rest_url", "")}))
