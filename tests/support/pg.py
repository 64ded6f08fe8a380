"""A throwaway PostgreSQL cluster for tests (session-scoped), or the server KMSGW_TEST_PG_URL names.

The cluster lives in a temporary directory with its socket beside it, listens on 127.0.0.1 on
a free port and runs with fsync off (tests need speed, not durability). initdb refuses to run
as root, so under root the binaries run as the ``postgres`` user (runuser). Local TCP
connections are trusted except for the role PASSWORD_ROLE, which needs its password (SCRAM):
the tests of password sources use it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql


def _pg_bin() -> Path:
    """KMSGW_TEST_PG_BIN, else the newest Debian server version installed."""
    if os.environ.get("KMSGW_TEST_PG_BIN"):
        return Path(os.environ["KMSGW_TEST_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
PASSWORD_ROLE = "kmsgw_pw"


@dataclass
class PgCluster:
    host: str
    port: int
    admin_user: str
    admin_db: str = "postgres"
    data_dir: Path | None = None  # None: an external server (KMSGW_TEST_PG_URL)
    run_as: list[str] = field(default_factory=list)
    _databases: list[str] = field(default_factory=list)

    def url(self, database: str, user: str | None = None) -> str:
        return f"postgresql://{user or self.admin_user}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(self.admin_db), autocommit=True)

    def create_database(self) -> str:
        """A fresh empty database; returns its URL."""
        name = f"kmsgw_t_{uuid.uuid4().hex[:16]}"
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._databases.append(name)
        return self.url(name)

    def drop_databases(self) -> None:
        with self.admin() as conn:
            for name in self._databases:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._databases.clear()

    def stop(self) -> None:
        if self.data_dir is None:
            self.drop_databases()
            return
        subprocess.run(
            [*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir / "data"), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster() -> PgCluster:
    """initdb + pg_ctl start; raises RuntimeError with initdb's/postgres's output on failure."""
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="kmsgw-pg-"))
    if run_as:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    user = "postgres"
    out = subprocess.run(
        [*run_as, str(PG_BIN / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"initdb failed: {out.stderr or out.stdout}")
    (data / "pg_hba.conf").write_text(
        f"local all all trust\nhost all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
    )
    port = _free_port()
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    out = subprocess.run(
        [
            *run_as,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    if out.returncode != 0:
        log = (base / "postgres.log").read_text() if (base / "postgres.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {out.stderr or out.stdout}\n{log}")
    return PgCluster("127.0.0.1", port, user, data_dir=base, run_as=run_as)


def external_cluster(url: str) -> PgCluster:
    parts = psycopg.conninfo.conninfo_to_dict(url)
    return PgCluster(
        host=str(parts.get("host", "127.0.0.1")),
        port=int(parts.get("port", 5432)),
        admin_user=str(parts.get("user", "postgres")),
        admin_db=str(parts.get("dbname", "postgres")),
    )


def cluster_or_skip() -> Iterator[PgCluster]:
    """The session's PostgreSQL: KMSGW_TEST_PG_URL when set, else a fresh local cluster."""
    url = os.environ.get("KMSGW_TEST_PG_URL")
    if url:
        cluster = external_cluster(url)
    else:
        reason = ""
        if not (PG_BIN / "initdb").exists():
            reason = f"PostgreSQL server binaries not found in {PG_BIN} (Debian: apt-get install postgresql)"
        elif os.geteuid() == 0 and shutil.which("runuser") is None:
            reason = "running as root without runuser: initdb cannot run as root"
        if reason:
            if os.environ.get("KMSGW_TEST_REQUIRE_PG"):  # CI: a missing PostgreSQL is a failure
                pytest.fail(reason)
            pytest.skip(reason)
        cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
