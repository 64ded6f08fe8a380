"""examples/moto-suite, a suite written for moto's server mode (boto3 with ``endpoint_url``, the
FOOBARKEY/FOOBARSECRET credentials, ``POST /moto-api/reset`` before each test), runs unchanged
against ``moto_server`` and against ``kmsgw dev`` (docs/testing-with-kmsgw.md, "Moving a moto
server-mode suite to `kmsgw dev`"): only the URL it is pointed at differs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws.conftest import kmsgw_dev

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "moto-suite"
TESTS = 7
MOTO_SERVER = Path(sys.executable).parent / "moto_server"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """The example copied out of the repository (its own rootdir and pyproject, no kmsgw conftest)."""
    copy = tmp_path / "moto-suite"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return copy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_suite(suite: Path, endpoint: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["KMS_ENDPOINT_URL"] = endpoint
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[str]:
    """`kmsgw dev` on a chosen HTTP port (a suite that hard-codes moto's URL takes ``--rest-port 5000``)."""
    port = _free_port()
    with kmsgw_dev(tmp_path, "--rest-port", str(port)) as info:
        assert info["aws_endpoint"] == f"http://127.0.0.1:{port}"
        yield str(info["aws_endpoint"])


def test_the_moto_suite_passes_against_kmsgw_dev(suite: Path, dev: str) -> None:
    assert f"{TESTS} passed" in run_suite(suite, dev)


@pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto_server is not installed (moto[server])")
def test_the_same_suite_passes_against_moto_server(suite: Path) -> None:
    """The suite is a genuine moto server-mode suite: it passes against moto_server itself."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "moto_server did not start"
                time.sleep(0.1)
        assert f"{TESTS} passed" in run_suite(suite, f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(30)
