"""The pytest plugin (entry point ``pytest11``: ``kmsgw``): a real KMS for an application's test suite.

Lazy by design: importing this module costs the standard library and pytest only. A gateway starts
when a test first asks for one of the fixtures below (or, once collection shows a test will, its
child process starts in the background while pytest sets up). ``-p no:kmsgw`` turns it all off.
docs/testing-with-kmsgw.md is the guide: fixtures, markers, modes, xdist, the seed format.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from gateway.testing.handle import KmsGateway, KmsProject, NoControlSurface

if TYPE_CHECKING:
    from gateway.testing.launcher import ChildGateway
    from gateway.testing.tools import KeyFactory, KmsClock, KmsFaults

FIXTURES = frozenset(
    {"kms_gateway", "kms_project", "kms_client", "kms_sdk", "kms_rest", "kms_key", "kms_clock", "kms_faults"}
)
MODES = ("subprocess", "inprocess", "external")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kmsgw", "kmsgw: a real KMS for the tests (docs/testing-with-kmsgw.md)")

    def option(name: str, help: str, **kw: Any) -> None:
        group.addoption(f"--kmsgw-{name}", dest=f"kmsgw_{name.replace('-', '_')}", help=help, **kw)
        kind: Literal["bool", "string"] = "bool" if kw.get("action") else "string"
        parser.addini(f"kmsgw_{name.replace('-', '_')}", help, type=kind)

    option("mode", "subprocess (default), inprocess or external (KMSGW_TEST_* or --kmsgw-env-file)", choices=MODES)
    option("shared", "under pytest-xdist: one gateway for all workers (default: one per worker)", action="store_true")
    option("seed", "seed file (TOML): projects, credentials, keys, known key material")
    option("config", "a kmsgw TOML config every gateway of the run starts with")
    option("env-file", "external mode: a `kmsgw dev` env file (default: KMSGW_TEST_ENV_FILE or KMSGW_TEST_*)")
    option("module", "PKCS#11 module of a real HSM test partition (instead of a throwaway SoftHSM2 token)")
    option("token-label", "that partition's token label")
    option("pin-file", "a 0600 file holding that partition's user PIN")
    option("start-timeout", "seconds a gateway may take to start (default 60)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kmsgw(config={...}, seed=PATH): this module's tests get a gateway of their own")
    config.addinivalue_line("markers", "kmsgw_requires(*key_specs): skip unless the gateway's token has them")
    config.stash[_POOL] = GatewayPool(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the default gateway's child now if a collected test will need it (it starts while pytest sets up)."""
    pool = session.config.stash[_POOL]
    if session.config.option.collectonly or not session.items:
        return
    for item in session.items:
        names = set(getattr(item, "fixturenames", ()))
        if "kms_gateway" in names or (FIXTURES & names and item.get_closest_marker("kmsgw") is None):
            pool.prestart()
            return


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("kmsgw_requires")
    if marker is None:
        return
    gateway = item.config.stash[_POOL].for_item(item)
    try:
        caps = gateway.capabilities()
    except NoControlSurface:
        pytest.skip("kmsgw_requires: this gateway cannot say what its token has (no control surface)")
    known = {**caps["key_specs"], **caps["wrapping_algorithms"]}
    unknown = [name for name in marker.args if name not in known]
    if unknown:
        pytest.fail(f"kmsgw_requires: unknown name(s) {unknown}; known: {sorted(known)}", pytrace=False)
    missing = [name for name in marker.args if not known[name]]
    if missing:
        pytest.skip(f"the gateway's token lacks {', '.join(missing)}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    pool = session.config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


# -- where gateways come from ------------------------------------------------------------------
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
        self._inprocess_taken = False

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
        if self.default is None:
            self.default = self._start_default()
        return self.default

    def _start_default(self) -> KmsGateway:
        if self.mode == "external":
            return _external(self._path("env_file"))
        if self.mode == "inprocess":
            self._inprocess_taken = True
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
        if not os.environ.get("PYTEST_XDIST_WORKER") and self._setting("shared"):
            factory = getattr(self.config, "_tmp_path_factory", None)
            if factory is not None:  # the xdist controller: stop the gateway the workers shared
                from gateway.testing.launcher import stop_shared

                stop_shared(Path(factory.getbasetemp()))


_POOL = pytest.StashKey[GatewayPool]()


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
    return KmsGateway(info, mode="external")


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kms_gateway(request: pytest.FixtureRequest) -> KmsGateway:
    """The run's gateway (one per xdist worker; one for all with --kmsgw-shared)."""
    return request.config.stash[_POOL].default_gateway()


@pytest.fixture(scope="module")
def _kmsgw_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stops the gateways a marked module started once the module is done."""
    yield
    request.config.stash[_POOL].close_owned_by(request.node.nodeid)


@pytest.fixture
def _kmsgw_current(request: pytest.FixtureRequest, _kmsgw_module: None) -> KmsGateway:
    return request.config.stash[_POOL].for_item(request.node)


@pytest.fixture
def kms_project(_kmsgw_current: KmsGateway) -> KmsProject:
    """A fresh project with a bearer token and an AK/SK pair: tests are isolated without any reset."""
    return _kmsgw_current.new_project()


@pytest.fixture
def kms_client(kms_project: KmsProject) -> Iterator[Any]:
    """``gateway.client.KmsClient`` (gRPC) with the project's token."""
    client = kms_project.client()
    yield client
    client.close()


@pytest.fixture
def kms_sdk(kms_project: KmsProject) -> Any:
    """The official ``huaweicloudsdkkms`` v2 ``KmsClient``, signing with the project's AK/SK."""
    return kms_project.sdk()


@pytest.fixture
def kms_rest(kms_project: KmsProject) -> Iterator[Any]:
    """An ``httpx.Client`` on ``{rest_url}/v1.0/{project}/kms/`` that sends the project's token."""
    client = kms_project.rest()
    yield client
    client.close()


@pytest.fixture
def kms_key(kms_client: Any, kms_project: KmsProject) -> KeyFactory:
    """A factory of keys in the project: ``kms_key("AES_256", alias=..., state=..., rotation=...)``."""
    from gateway.testing.tools import KeyFactory

    return KeyFactory(kms_client, kms_project)


@pytest.fixture
def kms_clock(_kmsgw_current: KmsGateway) -> Iterator[KmsClock]:
    """The gateway's clock: ``advance(days=8)`` runs the sweeps after the move; reset after the test."""
    from gateway.testing.tools import KmsClock

    clock = _needs_control(KmsClock, _kmsgw_current)
    yield clock
    clock.reset()


@pytest.fixture
def kms_faults(_kmsgw_current: KmsGateway) -> Iterator[KmsFaults]:
    """HSM faults: ``hsm_unavailable()``, ``latency(ms=50)``, ``close_sessions()``; all ended after the test."""
    from gateway.testing.tools import KmsFaults

    faults = _needs_control(KmsFaults, _kmsgw_current)
    yield faults
    faults.reset()


def _needs_control(kind: Any, gateway: KmsGateway) -> Any:
    try:
        return kind(gateway)
    except NoControlSurface as exc:
        pytest.skip(str(exc))
