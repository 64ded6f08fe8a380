"""The handle a test suite holds of a running gateway, whichever mode started it, and its projects.

Everything goes over the wire: gRPC and REST as the application under test would call them, and
the dev control surface (gateway/app/devmode/control.py) for what only a test may do — mint a
project, move the clock, break the HSM. So a handle of a subprocess, an in-process and an external
gateway behave the same. Heavy imports (grpc, the SDK, httpx) happen in the method that needs them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.testing.control import ControlClient

if TYPE_CHECKING:
    import httpx

    from gateway.client import KmsClient


class NoControlSurface(RuntimeError):
    """An external gateway started without `kmsgw dev` (plain `serve`): no clock, faults or projects."""


@dataclass
class Metrics:
    """The gateway's ``/metrics`` at one moment: ``value(name, **labels)`` sums the matching samples."""

    text: str
    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        return sum(v for n, lb, v in self.samples if n == name and all(lb.get(k) == w for k, w in labels.items()))


class KmsGateway:
    """A running gateway: endpoints, callers, observations, and (when it is ours) restart."""

    def __init__(
        self,
        info: dict[str, Any],
        *,
        mode: str,
        restart: Callable[[], dict[str, Any]] | None = None,
        stop: Callable[[], None] | None = None,
    ) -> None:
        self.mode = mode  # subprocess | inprocess | shared | external
        self._restart, self._stop = restart, stop
        self._closers: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._capabilities: dict[str, Any] | None = None
        self._set(info)

    def _set(self, info: dict[str, Any]) -> None:
        self.info = info
        self.grpc_target: str = str(info["grpc_target"])
        self.rest_url: str = str(info["rest_url"])
        self.data_dir: Path | None = Path(str(info["data_dir"])) if info.get("data_dir") else None
        control_url, token = info.get("control_url"), info.get("control_token")
        self.control = ControlClient(str(control_url), str(token)) if control_url and token else None

    def __repr__(self) -> str:
        return f"<KmsGateway {self.mode} grpc={self.grpc_target} rest={self.rest_url}>"

    def require_control(self, what: str) -> ControlClient:
        if self.control is None:
            raise NoControlSurface(f"{what} needs a dev gateway's control surface (`kmsgw dev`); this one has none")
        return self.control

    # -- callers ------------------------------------------------------------------------------
    def new_project(self, *, allow: list[str] | None = None, project_id: str | None = None) -> KmsProject:
        """A fresh project with a bearer token and an AK/SK pair (``allow``: their permission actions)."""
        if self.control is None:  # an external `serve`: the one project its variables name
            return KmsProject.from_info(self, self.info)
        body: dict[str, Any] = {"allow": allow} if allow is not None else {}
        if project_id:
            body["project_id"] = project_id
        return KmsProject.from_info(self, self.control.post("/v1/projects", body))

    def token(self, project: str, *, allow: list[str] | None = None, ttl: int = 3600) -> str:
        """A bearer token for ``project`` (expires after ``ttl`` seconds of the gateway's clock)."""
        body: dict[str, Any] = {"project_id": project, "ttl": ttl}
        if allow is not None:
            body["allow"] = allow
        return str(self.require_control("token()").post("/v1/tokens", body)["token"])

    def credentials(self, project: str, *, allow: list[str] | None = None) -> dict[str, str]:
        """An AK/SK pair for ``project``: ``{"access_key", "secret_key", "user_id", ...}``."""
        body: dict[str, Any] = {"project_id": project}
        if allow is not None:
            body["allow"] = allow
        return dict(self.require_control("credentials()").post("/v1/credentials", body))

    def client(self, project: str | None = None, *, token: str | None = None, **kwargs: Any) -> KmsClient:
        """``gateway.client.KmsClient`` for ``project`` (a fresh token) or for ``token``; closed with the gateway."""
        from gateway.client import KmsClient

        if token is None:
            if project is None:
                raise ValueError("give a project or a token")
            token = self.token(project, ttl=10 * 365 * 86400)
        kwargs.setdefault("timeout", 30.0)
        client = KmsClient(self.grpc_target, token=token, **kwargs)
        self._closers.append(client.close)
        return client

    def sdk(self, project: str, *, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """The official ``huaweicloudsdkkms`` v2 ``KmsClient`` for ``project`` (fresh AK/SK unless given)."""
        if access_key is None or secret_key is None:
            creds = self.credentials(project)
            access_key, secret_key = creds["access_key"], creds["secret_key"]
        return build_sdk(self.rest_url, project, access_key, secret_key)

    def rest(self, project: str, *, token: str | None = None) -> httpx.Client:
        """An httpx client whose base URL is ``{rest_url}/v1.0/{project}/kms/`` and that sends a token."""
        import httpx

        token = token or self.token(project, ttl=10 * 365 * 86400)
        client = httpx.Client(
            base_url=f"{self.rest_url}/v1.0/{project}/kms/",
            headers={"X-Auth-Token": token, "Content-Type": "application/json"},
            timeout=30.0,
            trust_env=False,
        )
        self._closers.append(client.close)
        return client

    # -- observations -------------------------------------------------------------------------
    def audit_events(self, project: str | None = None, *, since: int = 0) -> list[dict[str, Any]]:
        """The audit trail's events (optionally one project's), oldest first."""
        query = f"/v1/audit?since={since}" + (f"&project_id={project}" if project else "")
        return list(self.require_control("audit_events()").get(query)["events"])

    def metrics(self) -> Metrics:
        """A scrape of ``/metrics`` (Prometheus text), parsed."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"{self.rest_url}/metrics", timeout=30) as response:  # noqa: S310 - our URL
            text = response.read().decode()
        samples = [
            (s.name, dict(s.labels), float(s.value)) for f in text_string_to_metric_families(text) for s in f.samples
        ]
        return Metrics(text, samples)

    def healthy(self) -> bool:
        """Readiness as the gateway reports it (False while its HSM is down)."""
        return bool(self.require_control("healthy()").get("/v1/health")["ready"])

    def capabilities(self) -> dict[str, Any]:
        """``{"key_specs": {spec: bool}, "wrapping_algorithms": {...}}`` of this gateway's token (cached)."""
        if self._capabilities is None:
            self._capabilities = dict(self.require_control("capabilities()").get("/v1/capabilities"))
        return self._capabilities

    # -- life cycle ---------------------------------------------------------------------------
    def restart(self) -> None:
        """Stop and start again on the same data dir and ports: keys, credentials and ciphertexts survive."""
        if self._restart is None:
            raise RuntimeError(f"restart() needs a gateway of this test run's own ({self.mode} mode is not)")
        with self._lock:
            if self.control is not None:
                self.control.close()
            self._set(self._restart())

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # noqa: S112 - a client already closed by its test
                continue
        self._closers.clear()
        if self.control is not None:
            self.control.close()
        if self._stop is not None:
            self._stop()
            self._stop = None


@dataclass
class KmsProject:
    """A project of the gateway with its callers: what ``kms_project`` gives each test."""

    gateway: KmsGateway
    project_id: str
    domain_id: str
    token: str
    access_key: str = ""
    secret_key: str = ""
    user_id: str = ""  # the AK/SK pair's user (a grant names it as grantee_principal)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_info(cls, gateway: KmsGateway, info: dict[str, Any]) -> KmsProject:
        return cls(
            gateway,
            str(info["project_id"]),
            str(info.get("domain_id", "")),
            str(info["token"]),
            str(info.get("access_key", "")),
            str(info.get("secret_key", "")),
            str(info.get("user_id", "")),
            extra=info,
        )

    def client(self, **kwargs: Any) -> KmsClient:
        """A gRPC ``gateway.client.KmsClient`` with this project's token."""
        return self.gateway.client(token=self.token, **kwargs)

    def sdk(self) -> Any:
        """The official SDK's ``KmsClient``, signing with this project's AK/SK."""
        return self.gateway.sdk(self.project_id, access_key=self.access_key, secret_key=self.secret_key)

    def rest(self) -> httpx.Client:
        return self.gateway.rest(self.project_id, token=self.token)


def build_sdk(endpoint: str, project: str, access_key: str, secret_key: str) -> Any:
    """The official KmsClient as a user builds it (its one-time ``~/.huaweicloud`` file kept out of $HOME)."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkkms.v2 import KmsClient as SdkClient

    config = HttpConfig.get_default_config()
    config.timeout = (10, 60)
    with _sdk_home():
        return (
            SdkClient.new_builder()
            .with_http_config(config)
            .with_credentials(BasicCredentials(access_key, secret_key, project))
            .with_endpoint(endpoint)
            .build()
        )


_HOME_LOCK = threading.Lock()


@contextmanager
def _sdk_home() -> Iterator[None]:
    """The SDK writes ``$HOME/.huaweicloud/application_id`` when it builds its first client."""
    import tempfile

    with _HOME_LOCK:
        old = os.environ.get("HOME")
        with tempfile.TemporaryDirectory(prefix="kmsgw-sdk-home-") as home:
            os.environ["HOME"] = home
            try:
                yield
            finally:
                if old is None:
                    os.environ.pop("HOME", None)
                else:
                    os.environ["HOME"] = old
