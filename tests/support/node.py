"""Helpers of the several-processes tests (leases, first start): configs, stubs, the token seen from outside.

The token of a data dir is inspected in a child process: this pytest process may already have
initialized libsofthsm2 for the session gateway's own token, and SoftHSM2 reads its config once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.gateway import KmsClient
from tests.support.serve import cli

_LIST_LABELS = """
import json, sys
from pathlib import Path
from gateway.hsm.softhsm import DEFAULT_TOKEN_LABEL, find_softhsm_module
from gateway.secret_files import read_secret
from gateway.hsm.token import TokenSession
data_dir = Path(sys.argv[1])
t = TokenSession(find_softhsm_module(), DEFAULT_TOKEN_LABEL, read_secret(data_dir / "hsm.pin"))
print(json.dumps(t.secret_key_labels()))
"""


def secret_key_labels(data_dir: Path) -> list[str]:
    """Labels of the secret-key objects on a data dir's SoftHSM2 token (the PIN is read from its file)."""
    env = dict(os.environ, SOFTHSM2_CONF=str((data_dir / "softhsm2.conf").resolve()))
    out = subprocess.run(
        [sys.executable, "-c", _LIST_LABELS, str(data_dir)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def write_config(path: Path, **gateway: object) -> Path:
    """A TOML config with a [gateway] table of the given keys (numbers and strings only)."""
    lines = ["[gateway]"] + [f"{k} = {json.dumps(v)}" for k, v in gateway.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def stub(grpc_port: int, token: str, channels: list[grpc.Channel]) -> KmsClient:
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    channels.append(channel)
    return KmsClient(pb_grpc.KeyManagementServiceStub(channel), token)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``condition()``; returns the seconds it took, fails the test with ``what`` after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def run_cli(data_dir: Path, *args: str) -> dict:
    """`kmsgw ARGS --data-dir DIR` in a child process; its JSON output, or a failure that shows its stderr."""
    return cli(data_dir, *args)
