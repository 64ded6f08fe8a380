"""The pytest plugin (entry point ``pytest11``: ``kmsgw``): a real KMS for an application's test suite.

Lazy by design: importing this module costs the standard library and pytest only. A gateway starts
when a test first asks for one of the fixtures below (or, once collection shows a test will, its
child process starts in the background while pytest sets up). ``-p no:kmsgw`` turns it all off.
docs/testing-with-kmsgw.md is the guide: fixtures, markers, modes, xdist, the seed format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import pytest

from gateway.testing.handle import KmsGateway, KmsProject, NoControlSurface
from gateway.testing.pool import GatewayPool

if TYPE_CHECKING:
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


_POOL = pytest.StashKey[GatewayPool]()


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
