"""SQLite metadata store: WAL, migrations at open, one connection per process.

Reads on the hot path are single-row primary-key lookups (tens of microseconds), so they
run inline on the event loop; writes are rare and committed with synchronous=FULL so a
crash never loses an acknowledged key. The SQL methods are SqlStore's (gateway/store/sql/),
shared with the PostgreSQL adapter; this module holds the SQLite primitives only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.core.ports.store import MetadataStore
from gateway.store.migrate import migrate_sqlite
from gateway.store.sql import IntegrityError, SqlStore

# Bound on how late another process's commit changes `generation`. Each poll is a SQLite statement,
# which releases the GIL: on a busy worker the loop then waits for the HSM thread to hand it back,
# so the poll runs at most this often rather than per request (docs/postgres.md, "Invalidation").
DATA_VERSION_POLL_S = 0.005


class SqliteStore(SqlStore):
    shared: bool = False  # True once another serve runs on this file (MetadataStore.shared, app/server.py)

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not Path(self.path).exists():  # owner-only from the start: sealed secrets live here
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # the loop thread and the CLI may share one store object
        self._generation = 0  # see the generation property
        self._enable_wal()
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        migrate_sqlite(self._conn)
        self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        self._next_version_check = 0.0

    def _enable_wal(self, deadline_s: float = 30.0) -> None:
        """Switch to WAL. Two processes opening a new file at once may both try the switch, and
        SQLite answers the loser SQLITE_BUSY at once (the busy handler does not cover a
        journal-mode change), so retry until the other has finished."""
        give_up = time.monotonic() + deadline_s
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > give_up:
                    raise
                time.sleep(0.01)

    @property
    def generation(self) -> int:
        """Changes whenever the database changed: at once for this store's own commits, within
        ``DATA_VERSION_POLL_S`` for commits by any other connection (workers, other processes).

        Read per crypto request, so it costs a clock read; ``PRAGMA data_version`` runs at most
        once per poll interval (its cost is not its few µs but the GIL hand-back it waits for).
        """
        now = time.monotonic()
        if now >= self._next_version_check:
            self._next_version_check = now + DATA_VERSION_POLL_S
            with self._lock:
                version = self._conn.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._data_version = version
                    self._generation += 1
        return self._generation

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
                self._generation += 1  # cached reads taken before this write are stale now
            except sqlite3.IntegrityError as exc:
                self._conn.execute("ROLLBACK")
                raise IntegrityError(str(exc)) from exc
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for several reads in a row (each statement sees the latest commit)."""
        with self._lock:
            yield self._conn

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()


if TYPE_CHECKING:  # mypy proves the adapter is a whole MetadataStore (gateway/core/ports/store.py)
    _CONFORMS: type[MetadataStore] = SqliteStore
