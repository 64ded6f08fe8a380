"""Ordered SQL migrations from ``gateway/store/migrations`` (NNNN_name.sql), applied once each.

Small on purpose: plain SQL files that SQLite and PostgreSQL both read, a version table,
and each file applied in its own transaction.
"""

from __future__ import annotations

import sqlite3
from importlib import resources


def migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("gateway.store") / "migrations"
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(out)


def migrate_sqlite(conn: sqlite3.Connection) -> list[str]:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")  # one transaction per file; the connection is in autocommit mode
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
