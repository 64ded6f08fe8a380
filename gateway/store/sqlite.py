"""SQLite metadata store: WAL, migrations at open, one connection per process.

Reads on the hot path are single-row primary-key lookups (tens of microseconds), so they
run inline on the event loop; writes are rare and committed with synchronous=FULL so a
crash never loses an acknowledged key.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from gateway.core.model import KeyRecord, KeyState
from gateway.store.migrate import migrate_sqlite
from gateway.store.port import CredentialRow, DuplicateAlias, TokenRow

_KEY_COLUMNS = [f.name for f in fields(KeyRecord)]
_UPDATABLE = set(_KEY_COLUMNS) - {"key_id", "project_id", "domain_id", "creation_date"}


def _row_to_key(row: sqlite3.Row) -> KeyRecord:
    data = {name: row[name] for name in _KEY_COLUMNS}
    data["key_state"] = KeyState(data["key_state"])
    data["default_key_flag"] = bool(data["default_key_flag"])
    data["provisioning"] = bool(data["provisioning"])
    return KeyRecord(**data)


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not Path(self.path).exists():  # owner-only from the start: sealed secrets live here
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # the loop thread and the CLI may share one store object
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        migrate_sqlite(self._conn)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- keys -------------------------------------------------------------------------
    def insert_key(self, rec: KeyRecord) -> None:
        cols = ", ".join(_KEY_COLUMNS)
        marks = ", ".join("?" for _ in _KEY_COLUMNS)
        values = tuple(int(v) if isinstance(v, bool | KeyState) else v for v in (getattr(rec, c) for c in _KEY_COLUMNS))
        try:
            with self._tx() as conn:
                conn.execute(f"INSERT INTO keys ({cols}) VALUES ({marks})", values)  # noqa: S608 - fixed names
                conn.execute(
                    "INSERT INTO key_versions (key_id, version, created_at) VALUES (?, ?, ?)",
                    (rec.key_id, rec.current_version, rec.creation_date),
                )
        except sqlite3.IntegrityError as exc:
            if "key_alias" in str(exc):
                raise DuplicateAlias(rec.key_alias) from exc
            raise

    def get_key(self, project_id: str, key_id: str) -> KeyRecord | None:
        row = self._one("SELECT * FROM keys WHERE key_id = ? AND project_id = ?", (key_id, project_id))
        return _row_to_key(row) if row else None

    def get_key_by_id(self, key_id: str) -> KeyRecord | None:
        row = self._one("SELECT * FROM keys WHERE key_id = ?", (key_id,))
        return _row_to_key(row) if row else None

    def update_key(self, key_id: str, **changes: object) -> None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assigns = ", ".join(f"{name} = ?" for name in changes)
        values = tuple(int(v) if isinstance(v, bool | KeyState) else v for v in changes.values())
        try:
            with self._tx() as conn:
                conn.execute(f"UPDATE keys SET {assigns} WHERE key_id = ?", (*values, key_id))  # noqa: S608
        except sqlite3.IntegrityError as exc:
            if "key_alias" in str(exc):
                raise DuplicateAlias(str(changes.get("key_alias"))) from exc
            raise

    def delete_key(self, key_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM keys WHERE key_id = ?", (key_id,))

    def list_keys(
        self, project_id: str, key_state: KeyState | None, offset: int, limit: int
    ) -> tuple[list[KeyRecord], int]:
        where = "project_id = ? AND provisioning = 0"
        args: tuple = (project_id,)
        if key_state is not None:
            where += " AND key_state = ?"
            args += (int(key_state),)
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM keys WHERE {where}", args).fetchone()[0]  # noqa: S608
            rows = self._conn.execute(
                f"SELECT * FROM keys WHERE {where} ORDER BY creation_date, key_id LIMIT ? OFFSET ?",  # noqa: S608
                (*args, limit, offset),
            ).fetchall()
        return [_row_to_key(r) for r in rows], total

    def count_keys(self, project_id: str, *, include_default: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM keys WHERE project_id = ? AND provisioning = 0"
        if not include_default:
            sql += " AND default_key_flag = 0"
        row = self._one(sql, (project_id,))
        return int(row[0]) if row else 0

    def keys_due_for_deletion(self, now_ms: int) -> list[KeyRecord]:
        rows = self._all(
            "SELECT * FROM keys WHERE key_state = ? AND scheduled_deletion_date <= ?",
            (int(KeyState.PENDING_DELETION), now_ms),
        )
        return [_row_to_key(r) for r in rows]

    def provisioning_keys(self) -> list[KeyRecord]:
        return [_row_to_key(r) for r in self._all("SELECT * FROM keys WHERE provisioning = 1")]

    def all_key_ids(self) -> set[str]:
        return {r[0] for r in self._all("SELECT key_id FROM keys")}

    def key_versions(self, key_id: str) -> list[int]:
        rows = self._all("SELECT version FROM key_versions WHERE key_id = ? ORDER BY version", (key_id,))
        return [r[0] for r in rows]

    def add_key_version(self, key_id: str, version: int, created_at: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO key_versions (key_id, version, created_at) VALUES (?, ?, ?)",
                (key_id, version, created_at),
            )

    # -- principals -------------------------------------------------------------------
    def project_domain(self, project_id: str) -> str | None:
        row = self._one("SELECT domain_id FROM projects WHERE project_id = ?", (project_id,))
        return row[0] if row else None

    def put_project(self, project_id: str, domain_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO projects (project_id, domain_id) VALUES (?, ?) ON CONFLICT (project_id) DO NOTHING",
                (project_id, domain_id),
            )

    def put_credential(self, row: CredentialRow, created_at: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO credentials (access_key, sealed_secret, project_id, domain_id, user_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row.access_key, row.sealed_secret, row.project_id, row.domain_id, row.user_id, created_at),
            )

    def get_credential(self, access_key: str) -> CredentialRow | None:
        row = self._one(
            "SELECT access_key, sealed_secret, project_id, domain_id, user_id FROM credentials WHERE access_key = ?",
            (access_key,),
        )
        return CredentialRow(row[0], bytes(row[1]), row[2], row[3], row[4]) if row else None

    def put_token(self, token_hash: str, row: TokenRow) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO auth_tokens (token_hash, project_id, domain_id, user_id, expires_at) VALUES (?, ?, ?, ?, ?)",
                (token_hash, row.project_id, row.domain_id, row.user_id, row.expires_at),
            )

    def get_token(self, token_hash: str) -> TokenRow | None:
        row = self._one(
            "SELECT project_id, domain_id, user_id, expires_at FROM auth_tokens WHERE token_hash = ?", (token_hash,)
        )
        return TokenRow(row[0], row[1], row[2], row[3]) if row else None
