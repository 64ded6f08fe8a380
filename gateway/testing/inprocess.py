"""The plugin's in-process mode: a dev gateway on a thread of the test process (fastest start).

This is the one module of gateway.testing that imports the composition root (gateway.app): an
in-process gateway *is* the app, run in the test's process. The import-linter contract that keeps
gateway.app to the CLI names this module as its one other importer, deliberately (pyproject.toml).
What it costs the test process: python-pkcs11 loaded, ``SOFTHSM2_CONF`` set, one gateway per process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.app.devmode.runner import DevOptions
from gateway.app.devmode.threaded import ThreadedDevGateway
from gateway.testing.handle import KmsGateway


def start(workdir: Path, options: dict[str, Any], timeout: float) -> KmsGateway:
    """A handle of a gateway serving on this process's thread; ``options``: DevOptions fields."""
    current = [ThreadedDevGateway(_options(workdir, options), timeout)]

    def restart() -> dict[str, Any]:
        info = current[0].info
        ports = {
            "grpc_port": int(str(info["grpc_target"]).rsplit(":", 1)[1]),
            "rest_port": int(str(info["rest_url"]).rsplit(":", 1)[1]),
            "control_port": int(str(info["control_url"]).rsplit(":", 1)[1]),
        }
        current[0].stop()
        current[0] = ThreadedDevGateway(_options(workdir, {**options, **ports}), timeout)
        return current[0].info

    return KmsGateway(current[0].info, mode="inprocess", restart=restart, stop=lambda: current[0].stop())


def _options(workdir: Path, options: dict[str, Any]) -> DevOptions:
    return DevOptions(data_dir=workdir / "var", dev_project=False, env_file=None, **options)
