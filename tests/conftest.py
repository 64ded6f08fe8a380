"""Shared fixtures: a real SoftHSM2 token and real servers on loopback ephemeral ports.

One in-process gateway serves the whole session (python-pkcs11 initializes the library
once per process, so one SoftHSM2 config per pytest process). Tests that need their own
process — restart, SIGTERM, the README's command — start `kmsgw serve` as a subprocess.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.app import config as config_mod
from gateway.app.runtime import Runtime
from gateway.app.server import run
from gateway.core.clock import OffsetClock
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.gateway import Gateway, KmsClient, new_project_id

pytest_plugins = ["pytester"]  # tests/testkit runs the kmsgw pytest plugin as its users would

if shutil.which("softhsm2-util") is None:
    pytest.exit("softhsm2 is not installed: run `make test` (it installs it)", returncode=3)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("gw") / "var"
    cfg = config_mod.load(
        None,
        data_dir=str(data_dir),
        grpc_listen="127.0.0.1:0",
        rest_listen="127.0.0.1:0",
        cmk_quota=100_000,
        sweep_interval_s=3600.0,
        drain_seconds=2.0,
    )
    clock = OffsetClock()
    rt = Runtime.open(cfg, clock)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    gw = Gateway(rt, loop, clock)

    def on_ready(grpc_port: int, http_port: int) -> None:
        gw.grpc_port, gw.http_port = grpc_port, http_port
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(run(rt, on_ready=on_ready, stop=stop))

    thread = threading.Thread(target=main, name="gateway", daemon=True)
    thread.start()
    assert ready.wait(60), "gateway did not start"
    yield gw
    for ch in gw._channels:
        ch.close()
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    rt.close()


@pytest.fixture
def clock(gateway: Gateway) -> Iterator[OffsetClock]:
    """The gateway's clock; any advance is undone after the test."""
    yield gateway.clock
    gateway.clock.reset()


@pytest.fixture
def project(gateway: Gateway) -> tuple[str, KmsClient]:
    """A fresh project with a token and a gRPC client for it."""
    project_id = new_project_id()
    return project_id, gateway.stub(gateway.token(project_id))


@pytest.fixture
def kms(project: tuple[str, KmsClient]) -> KmsClient:
    return project[1]


@pytest.fixture
def key_id(kms: KmsClient) -> str:
    return kms.CreateKey(pb.CreateKeyRequest(key_alias=f"k-{uuid.uuid4().hex[:12]}")).key_info.key_id


# -- PostgreSQL (tests/support/pg.py) -------------------------------------------------
@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster (or KMSGW_TEST_PG_URL's server); skips without PostgreSQL."""
    from tests.support.pg import cluster_or_skip

    yield from cluster_or_skip()


@pytest.fixture
def pg_url(pg_cluster: Any) -> str:
    """The URL of a fresh, empty database on the test cluster."""
    return pg_cluster.create_database()


LAYERS = ("core", "transport", "hsm", "store", "system", "hostile", "bench", "xks", "testkit", "aws")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer (its folder), so ``pytest -m hsm`` runs one layer."""
    for item in items:
        folder = item.path.parent.name
        if folder in LAYERS:
            item.add_marker(getattr(pytest.mark, folder))
