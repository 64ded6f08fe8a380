"""`kmsgw credentials create` and `kmsgw token create`: what they print, and what they store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.serve import cli


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def files_containing(data_dir: Path, needle: bytes) -> list[str]:
    return [str(p) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "var"


def test_credentials_create(data_dir):
    project_id = uuid.uuid4().hex
    out = cli(data_dir, "credentials", "create", "--project-id", project_id)
    assert set(out) >= {"access_key", "secret_key", "project_id", "domain_id", "user_id"}
    assert out["project_id"] == project_id
    assert re.fullmatch(r"[A-Z0-9]{20}", out["access_key"])
    assert len(out["secret_key"]) >= 32
    assert out["domain_id"] and out["user_id"]
    # The secret key is stored sealed: its bytes appear nowhere in the data dir (kms.db, WAL, token).
    assert (data_dir / "kms.db").exists()
    assert files_containing(data_dir, out["secret_key"].encode()) == []
    assert files_containing(data_dir, out["access_key"].encode())  # the access key itself is stored
    assert (data_dir / "kms.db").stat().st_mode & 0o777 == 0o600

    # A second credential of the same project keeps the project's domain; each has its own keys.
    again = cli(data_dir, "credentials", "create", "--project-id", project_id)
    assert again["domain_id"] == out["domain_id"]
    assert again["access_key"] != out["access_key"] and again["secret_key"] != out["secret_key"]


def test_credentials_domain_conflict(data_dir):
    project_id = uuid.uuid4().hex
    out = cli(data_dir, "credentials", "create", "--project-id", project_id, "--domain-id", "dom-a")
    assert out["domain_id"] == "dom-a"
    bad = run_cli(data_dir, "credentials", "create", "--project-id", project_id, "--domain-id", "dom-b")
    assert bad.returncode == 2
    assert "dom-a" in bad.stderr and bad.stdout == ""


def test_token_create_with_ttl(data_dir):
    project_id = uuid.uuid4().hex
    before = int(time.time() * 1000)
    out = cli(data_dir, "token", "create", "--project-id", project_id, "--ttl", "120")
    after = int(time.time() * 1000)
    assert set(out) >= {"token", "expires_at"}
    assert out["token"]
    assert before + 120_000 <= out["expires_at"] <= after + 120_000
    # Only the token's hash is stored.
    assert files_containing(data_dir, out["token"].encode()) == []


def test_token_default_ttl_and_user(data_dir):
    out = cli(data_dir, "token", "create", "--project-id", uuid.uuid4().hex, "--user-id", "u-1")
    now = int(time.time() * 1000)
    assert now + 86_400_000 - 60_000 <= out["expires_at"] <= now + 86_400_000 + 60_000


@pytest.mark.parametrize("ttl", ["0", "-5"])
def test_token_bad_ttl(data_dir, ttl):
    bad = run_cli(data_dir, "token", "create", "--project-id", "p", "--ttl", ttl)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "Traceback" not in bad.stderr
