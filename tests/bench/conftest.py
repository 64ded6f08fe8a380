"""A throwaway SoftHSM2 token (the gateway's own provisioning) and a runner for ``kmsgw`` in a subprocess.

The bench commands start worker processes that load the PKCS#11 module themselves; the pytest
process never loads it here, so these tests do not disturb the session gateway's token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.hsm.softhsm import DEFAULT_TOKEN_LABEL, ensure_softhsm, find_softhsm_module

REPO = Path(__file__).resolve().parents[2]
SHORT = ["--duration", "0.3s", "--warmup", "0.1s", "--no-progress"]  # speed is measured in benchmarks, not here


@dataclass(frozen=True)
class Token:
    module: str
    label: str
    conf: Path
    pin_file: Path
    data_dir: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def args(self) -> list[str]:
        return ["--module", self.module, "--token-label", self.label, "--pin-file", str(self.pin_file)]

    def object_count(self) -> int:
        """Objects a logged-in session sees, counted in a child process (the PIN read from its file there)."""
        code = textwrap.dedent(f"""
            import pkcs11
            pin = open({str(self.pin_file)!r}).read().strip()
            lib = pkcs11.lib({self.module!r})
            with lib.get_token(token_label={self.label!r}).open(user_pin=pin) as s:
                print(len(list(s.get_objects())))
        """)
        out = subprocess.run([sys.executable, "-c", code], env=self.env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Token:
    data_dir = tmp_path_factory.mktemp("bench") / "var"
    conf = ensure_softhsm(data_dir)
    return Token(find_softhsm_module(), DEFAULT_TOKEN_LABEL, conf, data_dir / "hsm.pin", data_dir)


def kmsgw(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def validate(doc: dict) -> None:
    """The full JSON Schema check (jsonschema is in the test extra)."""
    import jsonschema

    from gateway.bench.schema import SCHEMA

    jsonschema.Draft202012Validator(SCHEMA).validate(doc)


def load(path: Path) -> dict:
    doc = json.loads(path.read_text())
    validate(doc)
    return doc
