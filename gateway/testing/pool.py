"""Where the plugin's gateways come from: the default one, one per marked module, and in shared mode
an own one for clock and fault tests; the external mode's gateway from an env file or variables.

Imported when the plugin loads, so it imports the standard library, pytest and the handle only;
the launcher, the in-process mode and the clients load when a gateway is first needed.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.testing.handle import KmsGateway

if TYPE_CHECKING:
    from gateway.testing.launcher import ChildGateway


class GatewayPool:
    """The run's gateways: the default one, one per marked module, an own one for clock and faults in shared mode."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.mode = self._setting("mode") or "subprocess"
        self.shared = bool(self._setting("shared")) and bool(os.environ.get("PYTEST_XDIST_WORKER"))
        self.timeout = float(self._setting("start_timeout") or 60)
        self.default: KmsGateway | None = None
        self.others: dict[str, KmsGateway] = {}
        self.owners: dict[str, str] = {}  # gateway key -> the module node id that asked for it
        self._prestarted: ChildGateway | None = None
        self._default_error: str | None = None

    def _setting(self, name: str) -> Any:
        value = self.config.getoption(f"kmsgw_{name}", None)
        return value if value not in (None, False) else self.config.getini(f"kmsgw_{name}") or None

    def _path(self, name: str) -> Path | None:
        """A path option: command-line values relative to the cwd, ini values to the ini file's dir."""
        cli = self.config.getoption(f"kmsgw_{name}", None)
        if cli:
            return Path(cli).resolve()
        ini = self.config.getini(f"kmsgw_{name}")
        if not ini:
            return None
        base = self.config.inipath.parent if self.config.inipath else self.config.rootpath
        return (base / ini).resolve()

    def _workdir(self, name: str) -> Path:
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is not None:
            return Path(factory.mktemp(name, numbered=True))
        import tempfile

        return Path(tempfile.mkdtemp(prefix=f"{name}-"))

    def _hsm_args(self) -> list[str]:
        args = []
        for name in ("module", "token_label", "pin_file"):
            value = self._setting(name)
            if value:
                args += [f"--{name.replace('_', '-')}", str(Path(value).resolve()) if name == "pin_file" else value]
        return args

    def _child_args(self, workdir: Path, config: dict[str, Any] | None = None, seed: Path | None = None) -> list[str]:
        args = self._hsm_args()
        seed = seed or self._path("seed")
        if seed is not None:
            args += ["--seed", str(seed)]
        merged = _merged_config(self._path("config"), config or {})
        if merged:
            from gateway.testing.tomlw import dumps

            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "kmsgw.toml").write_text(dumps(merged))
            args += ["--config", str(workdir / "kmsgw.toml")]
        return args

    # -- the gateways ---------------------------------------------------------------------------
    def prestart(self) -> None:
        if self.default is None and self._prestarted is None and self.mode == "subprocess" and not self.shared:
            from gateway.testing.launcher import ChildGateway

            workdir = self._workdir("kmsgw")
            child = ChildGateway(workdir, self._child_args(workdir), watch_pid=os.getpid())
            child.spawn()
            self._prestarted = child

    def default_gateway(self) -> KmsGateway:
        if self._default_error is not None:  # a bad seed fails every test at once, not after a start each
            pytest.fail(self._default_error, pytrace=False)
        if self.default is None:
            try:
                self.default = self._start_default()
            except pytest.fail.Exception as exc:
                self._default_error = str(exc.msg)
                raise
        return self.default

    def _start_default(self) -> KmsGateway:
        if self.mode == "external":
            return _external(self._path("env_file"))
        if self.mode == "inprocess":
            from gateway.testing import inprocess

            options = _dev_options(self._hsm_args(), self._path("seed"), self._path("config"))
            return _started(lambda: inprocess.start(self._workdir("kmsgw"), options, self.timeout))
        if self.shared:
            from gateway.testing.launcher import shared_gateway

            root = Path(getattr(self.config, "_tmp_path_factory").getbasetemp()).parent  # noqa: B009 - pytest's own
            args = self._child_args(root / "kmsgw-shared")
            info = _started(lambda: shared_gateway(root, args, os.getppid(), self.timeout))
            return KmsGateway(info, mode="shared")
        child, self._prestarted = self._prestarted, None
        if child is None:
            from gateway.testing.launcher import ChildGateway

            workdir = self._workdir("kmsgw")
            child = ChildGateway(workdir, self._child_args(workdir), watch_pid=os.getpid())
            child.spawn()
        return self._handle(child)

    def _handle(self, child: ChildGateway) -> KmsGateway:
        import gateway.client  # noqa: F401 - grpc loads here while the child starts, not after

        info = _started(lambda: child.wait_ready(self.timeout))
        info["data_dir"] = str(child.data_dir)
        return KmsGateway(info, mode="subprocess", restart=lambda: child.restart(self.timeout), stop=child.stop)

    def own_gateway(
        self, key: str, owner: str, config: dict[str, Any] | None = None, seed: Path | None = None
    ) -> KmsGateway:
        """A gateway for one module (a marker's settings) or for clock and fault tests in shared mode."""
        gateway = self.others.get(key)
        if gateway is None:
            if self.mode == "external":
                pytest.skip("this test needs a gateway of its own (kmsgw marker, or clock/faults in shared mode)")
            from gateway.testing.launcher import ChildGateway

            workdir = self._workdir("kmsgw-own")
            child = ChildGateway(workdir, self._child_args(workdir, config, seed), watch_pid=os.getpid())
            child.spawn()
            gateway = self.others[key] = self._handle(child)
            self.owners[key] = owner
        return gateway

    def for_item(self, item: pytest.Item) -> KmsGateway:
        """The gateway this test talks to: its module's marked one, its own (shared mode and clock or
        faults: they would move the clock under the other workers' tests), else the default."""
        module = item.nodeid.split("::", 1)[0]
        marker = item.get_closest_marker("kmsgw")
        if marker is not None:
            unknown = set(marker.kwargs) - {"config", "seed"}
            if unknown or marker.args:
                pytest.fail(f"@pytest.mark.kmsgw takes config={{...}} and seed=PATH only; got {sorted(unknown)}")
            seed = marker.kwargs.get("seed")
            seed_path = (item.path.parent / seed).resolve() if seed else None
            key = json.dumps({"config": marker.kwargs.get("config") or {}, "seed": str(seed_path), "module": module})
            return self.own_gateway(key, module, marker.kwargs.get("config"), seed_path)
        if self.shared and {"kms_clock", "kms_faults"} & set(getattr(item, "fixturenames", ())):
            return self.own_gateway("isolated", "")
        return self.default_gateway()

    def close_owned_by(self, module: str) -> None:
        for key in [k for k, owner in self.owners.items() if owner == module]:
            self.others.pop(key).close()
            del self.owners[key]

    def close(self) -> None:
        child, self._prestarted = self._prestarted, None
        if child is not None:
            child.stop()
        for gateway in [*self.others.values(), *([self.default] if self.default else [])]:
            gateway.close()
        self.others.clear()
        self.default = None
        distributed = getattr(self.config.option, "dist", "no") != "no"
        if distributed and not os.environ.get("PYTEST_XDIST_WORKER") and self._setting("shared"):
            factory = getattr(self.config, "_tmp_path_factory", None)
            if factory is not None:  # the xdist controller: stop the gateway the workers shared
                from gateway.testing.launcher import stop_shared

                stop_shared(Path(factory.getbasetemp()))


def _started(start: Any) -> Any:
    """Run ``start``; a gateway that will not start fails the test with its own words, no traceback."""
    from gateway.testing.launcher import GatewayStartError

    try:
        return start()
    except GatewayStartError as exc:
        pytest.fail(f"kmsgw: {exc}", pytrace=False)
    except Exception as exc:
        if type(exc).__name__ in ("SeedError", "DevModeRefused"):
            pytest.fail(f"kmsgw: {exc}", pytrace=False)
        raise


def _merged_config(file: Path | None, marker: dict[str, Any]) -> dict[str, Any]:
    """The run's config file (its [gateway] table as top-level keys) overlaid with a marker's config."""
    base: dict[str, Any] = {}
    if file is not None:
        raw = tomllib.loads(file.read_text())
        base = {**raw.pop("gateway", {}), **raw}
    for name, value in marker.items():
        if isinstance(value, dict) and isinstance(base.get(name), dict):
            base[name] = {**base[name], **value}
        else:
            base[name] = value
    return base


def _dev_options(hsm_args: list[str], seed: Path | None, config: Path | None) -> dict[str, Any]:
    names = {"--module": "hsm_module", "--token-label": "token_label", "--pin-file": "pin_file"}
    options: dict[str, Any] = {names[hsm_args[i]]: hsm_args[i + 1] for i in range(0, len(hsm_args), 2)}
    if seed is not None:
        options["seed"] = seed
    if config is not None:
        options["config_file"] = str(config)
    return options


def _external(env_file: Path | None) -> KmsGateway:
    """A running gateway named by an env file (`kmsgw dev`'s) or by KMSGW_TEST_* variables."""
    from gateway.testing import envfile

    env_file = env_file or (Path(os.environ["KMSGW_TEST_ENV_FILE"]) if os.environ.get("KMSGW_TEST_ENV_FILE") else None)
    if env_file is not None:
        info: dict[str, Any] = envfile.fields(envfile.parse(env_file.read_text()))
    else:
        info = envfile.fields(os.environ, prefix="KMSGW_TEST_")
    if "grpc_target" not in info or "rest_url" not in info:
        raise pytest.UsageError(
            "--kmsgw-mode external needs --kmsgw-env-file FILE (a `kmsgw dev` env file), KMSGW_TEST_ENV_FILE, "
            "or KMSGW_TEST_TARGET and KMSGW_TEST_REST_URL (and KMSGW_TEST_CONTROL_URL/_TOKEN, or a project's "
            "KMSGW_TEST_PROJECT_ID and KMSGW_TEST_TOKEN)"
        )
    if "token" not in info and info.get("token_file"):
        info["token"] = Path(info["token_file"]).read_text().strip()
    if "control_url" not in info and not ("project_id" in info and "token" in info):
        raise pytest.UsageError(
            "--kmsgw-mode external: a gateway without a control surface (`kmsgw serve`) needs "
            "KMSGW_TEST_PROJECT_ID and KMSGW_TEST_TOKEN (or KMSGW_TEST_TOKEN_FILE)"
        )
    return KmsGateway(info, mode="external")
