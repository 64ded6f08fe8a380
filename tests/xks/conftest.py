"""A real `kmsgw serve --xks` for the XKS tests, with a keystore, a project and its REST token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.rest import Rest
from tests.support.serve import ServeProcess, cli, start_serve
from tests.xks.support import XksClient


def run_kmsgw(data_dir: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`kmsgw ARGS --data-dir D [--config C]` as a user runs it: exit code, stdout, stderr."""
    env = dict(os.environ)
    env.pop("SOFTHSM2_CONF", None)
    extra = ["--config", str(config)] if config is not None else []
    argv = [sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir), *extra]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180)


@dataclass
class XksGateway:
    srv: ServeProcess
    data_dir: Path
    project: str
    rest: Rest
    keystore: dict[str, Any]  # the proxy configuration file of the first keystore
    config: Path | None = None
    scheme: str = "http"
    _mapped: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.srv.http_port}"

    def cli(self, *args: str) -> dict[str, Any]:
        out = run_kmsgw(self.data_dir, *args, config=self.config)
        assert out.returncode == 0, out.stderr
        assert out.stdout.count("\n") == 1, "one JSON object on one line"
        return dict(json.loads(out.stdout))

    def client(self, keystore: dict[str, Any] | None = None, **kw: Any) -> XksClient:
        return XksClient.from_config(self.base, keystore or self.keystore, **kw)

    def new_key(self) -> str:
        return self.rest.create_key()

    def mapped_key(self, usage: str = "ENCRYPT,DECRYPT", prefix: str | None = None) -> tuple[str, str]:
        """A fresh gateway key mapped under a fresh external key id: (key id, xks key id)."""
        key_id = self.new_key()
        xks_key_id = f"xk-{uuid.uuid4().hex[:12]}"
        uri_prefix = prefix if prefix is not None else self.keystore["XksProxyUriPath"].removesuffix("/kms/xks/v1")
        args = ["xks", "key", "add", "--uri-prefix", uri_prefix, "--key-id", key_id, "--xks-key-id", xks_key_id]
        out = self.cli(*args, "--usage", usage)
        assert out["key_id"] == key_id
        return key_id, xks_key_id


def start_xks(tmp: Path, *, config_text: str = "", workers: int = 1, verify: Any = True) -> XksGateway:
    """A gateway with [xks] on, a project with a REST token, and one keystore of that project."""
    data_dir = tmp / "var"
    config = None
    extra = ["--xks", "--workers", str(workers)]
    if config_text:
        config = tmp / "kmsgw.toml"
        config.write_text(config_text)
        extra += ["--config", str(config)]
    srv = start_serve(data_dir, *extra)
    project = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project, *(("--config", str(config)) if config else ()))
    scheme = "https" if "[tls]" in config_text else "http"
    rest = Rest(f"{scheme}://127.0.0.1:{srv.http_port}", project, token=token["token"])
    if verify is not True:  # HTTPS with a throwaway CA
        rest.http.close()
        rest.http = httpx.Client(base_url=rest.base_url, verify=verify, timeout=30)
    gw = XksGateway(srv, data_dir, project, rest, {}, config, scheme)
    gw.keystore = gw.cli(
        "xks", "keystore", "create", "--uri-prefix", f"/ks-{uuid.uuid4().hex[:8]}", "--project-id", project
    )
    return gw


def stop(gw: XksGateway) -> None:
    gw.rest.close()
    assert gw.srv.terminate() == 0


@pytest.fixture(scope="session")
def xks_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XksGateway]:
    gw = start_xks(tmp_path_factory.mktemp("xks"))
    yield gw
    stop(gw)
