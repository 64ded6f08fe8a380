"""A data dir remembers the store it is served with (``<data_dir>/store.json``, gateway/app/store_wiring.py).

Commands given no store use it; a command given another store is refused with one line and exit
2, before it opens the token. The record never holds a password.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from gateway.app.config import Config
from gateway.app.store_wiring import BINDING_NAME, StoreBindingError, open_store, settle_store
from gateway.store.url import same_store, without_password
from tests.support.rest import Rest
from tests.support.serve import cli, start_serve

UNREACHABLE_PG = "postgresql://nobody@127.0.0.1:1/nothing"  # refused before anything connects


def run_kmsgw(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, env=env, timeout=180
    )


def binding(data_dir: Path) -> dict:
    return json.loads((data_dir / BINDING_NAME).read_text())


def assert_refused(out: subprocess.CompletedProcess, data_dir: Path, bound: str) -> None:
    """Exit 2 and one line on stderr naming the bound store and how to change it."""
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"kmsgw: the data dir {data_dir} is bound to the store {bound}, not "), lines[0]
    assert f"delete {data_dir / BINDING_NAME}" in lines[0], lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""


# -- real processes ----------------------------------------------------------------------------
def test_a_cli_command_without_store_uses_the_postgresql_store_its_data_dir_is_served_with(tmp_path, pg_url):
    data_dir = tmp_path / "var"
    node = start_serve(data_dir, "--store", pg_url, "--workers", "1")
    try:
        record = binding(data_dir)
        assert record["store"] == pg_url
        assert stat.S_IMODE((data_dir / BINDING_NAME).stat().st_mode) == 0o600

        project_id = uuid.uuid4().hex
        cred = cli(data_dir, "credentials", "create", "--project-id", project_id)  # no --store
        rest = Rest(f"http://127.0.0.1:{node.http_port}", project_id, creds=cred)
        try:
            key_id = rest.create_key()  # signed with the new credential: the serve found it
            assert rest.ok("/describe-key", {"key_id": key_id})["key_info"]["key_id"] == key_id
        finally:
            rest.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute("SELECT project_id FROM credentials WHERE access_key = %s", (cred["access_key"],))
            assert row.fetchone() == (project_id,)
        assert not (data_dir / "kms.db").exists()  # nothing went to a SQLite file beside the servers

        # The same database spelled another way is the same store.
        same = pg_url.replace("postgresql://", "postgres://", 1) + "?sslmode=disable&application_name=x"
        ok = run_kmsgw("token", "create", "--project-id", project_id, "--data-dir", str(data_dir), "--store", same)
        assert ok.returncode == 0, ok.stderr

        # Another store: refused, whichever command, before it opens the token or a database.
        for args in (
            ("credentials", "create", "--project-id", project_id),
            ("token", "create", "--project-id", project_id),
            ("certificates", "list"),
            ("audit", "verify", "--no-mac"),
        ):
            out = run_kmsgw(*args, "--data-dir", str(data_dir), "--store", "sqlite:kms.db")
            assert_refused(out, data_dir, pg_url)
        other_db = pg_url.rsplit("/", 1)[0] + "/another_database"
        assert_refused(
            run_kmsgw("credentials", "show", "--access-key", "x", "--data-dir", str(data_dir), "--store", other_db),
            data_dir,
            pg_url,
        )
        second = run_kmsgw(
            "serve", "--data-dir", str(data_dir), "--store", "sqlite:kms.db", "--grpc-listen", "127.0.0.1:0",
            "--rest-listen", "127.0.0.1:0",
        )  # fmt: skip
        assert_refused(second, data_dir, pg_url)
        assert not (data_dir / "kms.db").exists()
        assert binding(data_dir) == record
    finally:
        assert node.terminate() == 0

    # Deliberately elsewhere: delete the record; the next command given a store records it.
    (data_dir / BINDING_NAME).unlink()
    cli(data_dir, "token", "create", "--project-id", "p", "--store", "sqlite:kms.db")
    assert binding(data_dir)["store"] == "sqlite:kms.db"


def test_serve_without_store_records_the_data_dirs_sqlite_file(tmp_path):
    data_dir = tmp_path / "var"
    node = start_serve(data_dir, "--workers", "1")
    try:
        assert binding(data_dir)["store"] == "sqlite:kms.db"
        token = cli(data_dir, "token", "create", "--project-id", "p")["token"]
        assert token
        out = run_kmsgw("token", "create", "--project-id", "p", "--data-dir", str(data_dir), "--store", UNREACHABLE_PG)
        assert_refused(out, data_dir, "sqlite:kms.db")
        absolute = f"sqlite://{(data_dir / 'kms.db').resolve()}"  # the same file by its absolute path
        same = run_kmsgw("token", "create", "--project-id", "p", "--data-dir", str(data_dir), "--store", absolute)
        assert same.returncode == 0, same.stderr
    finally:
        assert node.terminate() == 0


# -- the record itself (in process) --------------------------------------------------------------
def test_a_cli_command_binds_only_when_given_a_store(tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    cfg = Config(data_dir=data_dir)
    settle_store(cfg, serving=False)
    assert cfg.store == ""  # no record, no store given: the data dir's kms.db, not recorded
    open_store(cfg).close()
    assert not (data_dir / BINDING_NAME).exists()

    serving = Config(data_dir=data_dir)
    settle_store(serving, serving=True)
    assert serving.store == "sqlite:kms.db"  # serve records its default

    given = Config(data_dir=data_dir, store="sqlite:other.db")
    settle_store(given, serving=False)
    open_store(given).close()
    assert binding(data_dir)["store"] == "sqlite:other.db"
    unsaid = Config(data_dir=data_dir)
    settle_store(unsaid, serving=True)
    assert unsaid.store == "sqlite:other.db"
    with pytest.raises(StoreBindingError, match=re.escape("is bound to the store sqlite:other.db, not sqlite:kms.db")):
        settle_store(Config(data_dir=data_dir, store="sqlite:kms.db"), serving=True)
    with pytest.raises(StoreBindingError, match=re.escape("is bound to the store sqlite:other.db")):
        open_store(Config(data_dir=data_dir, store="sqlite:kms.db"))  # Runtime.open checks too


def test_an_unreadable_record_is_one_line_naming_it(tmp_path):
    (tmp_path / BINDING_NAME).write_text("{not json")
    with pytest.raises(StoreBindingError, match=re.escape(f"{tmp_path / BINDING_NAME} does not name a store")):
        settle_store(Config(data_dir=tmp_path), serving=False)
    (tmp_path / BINDING_NAME).write_text('{"store": "mysql://x/y"}')
    with pytest.raises(StoreBindingError, match="does not name a store"):
        settle_store(Config(data_dir=tmp_path), serving=False)


def test_the_record_never_holds_a_password(tmp_path, pg_cluster, pg_url):
    if pg_cluster.data_dir is None:
        pytest.skip("needs the local throwaway cluster (its pg_hba.conf)")
    password = uuid.uuid4().hex
    with psycopg.connect(pg_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'kmsgw_pw'").fetchone()
        conn.execute(f"{'ALTER' if exists else 'CREATE'} ROLE kmsgw_pw LOGIN SUPERUSER PASSWORD '{password}'")
    dbname = pg_url.rsplit("/", 1)[1]
    url = pg_cluster.url(dbname, user="kmsgw_pw").replace("kmsgw_pw@", f"kmsgw_pw:{password}@")
    open_store(Config(data_dir=tmp_path, store=url + "?sslmode=disable")).close()
    text = (tmp_path / BINDING_NAME).read_text()
    assert password not in text
    assert json.loads(text)["store"] == pg_cluster.url(dbname, user="kmsgw_pw") + "?sslmode=disable"
    assert stat.S_IMODE((tmp_path / BINDING_NAME).stat().st_mode) == 0o600


def test_store_identity_and_password_removal(tmp_path):
    assert without_password("postgresql://u:pw@h:5/db?sslmode=require&password=x&sslpassword=y&passfile=/p") == (
        "postgresql://u@h:5/db?sslmode=require&passfile=/p"
    )
    assert without_password("sqlite:///abs/kms.db") == "sqlite:///abs/kms.db"
    assert same_store("postgresql://a@db/k", "postgres://b:pw@DB:5432/k?sslmode=verify-full", tmp_path)
    assert same_store("postgresql://a@db:5433/k", "postgresql:///k?host=db&port=5433", tmp_path)
    assert not same_store("postgresql://a@db/k", "postgresql://a@db/other", tmp_path)
    assert not same_store("postgresql://a@db/k", "postgresql://a@db:5433/k", tmp_path)
    assert same_store("sqlite:kms.db", "", tmp_path)
    assert same_store("sqlite:kms.db", f"sqlite://{tmp_path}/kms.db", tmp_path)
    assert not same_store("sqlite:kms.db", "postgresql://a@db/k", tmp_path)
