"""Ordered SQL migrations from ``gateway/store/migrations`` (NNNN_name.sql), applied once each.

Small on purpose: plain SQL files that SQLite and PostgreSQL both read, a version table,
and each file applied in its own transaction.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from typing import Any


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
            # Re-check under the write lock: another process starting at the same moment may have applied it.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                conn.execute("COMMIT")
                continue
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


# -- PostgreSQL: the same files, translated at apply time ----------------------------------
MIGRATION_LOCK_KEY = 0x6B6D7367_7700_0002  # pg_advisory_xact_lock key: nodes starting together migrate once

# SQLite type names -> PostgreSQL. INTEGER is 64-bit in SQLite, and ms epochs overflow int4.
_PG_TYPES = (
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
)
# SQLite-only syntax with no faithful translation: refused, so the file gets fixed, not guessed at.
_NOT_PORTABLE = re.compile(
    r"\bAUTOINCREMENT\b|\bWITHOUT\s+ROWID\b|\bINSERT\s+OR\b|\bREPLACE\s+INTO\b|\bPRAGMA\b|\browid\b", re.IGNORECASE
)


def statements(sql: str) -> list[str]:
    """A migration file's statements (split on ``;``, hence no semicolons inside comments)."""
    return [s for s in sql.split(";") if _strip_comments(s).strip()]


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def to_postgres(statement: str) -> str:
    """One migration statement in PostgreSQL's dialect (type names; comments are dropped)."""
    code = _strip_comments(statement)
    bad = _NOT_PORTABLE.search(code)
    if bad:
        raise ValueError(f"migration statement is not portable SQL ({bad.group(0)}): {code.strip()[:200]}")
    for pattern, replacement in _PG_TYPES:
        code = pattern.sub(replacement, code)
    return code.strip()


def migrate_postgres(conn: Any) -> list[str]:
    """Apply the pending files on a psycopg connection in autocommit mode, each in its own
    transaction under an advisory lock (the version table is re-read under the lock)."""
    applied = []
    for version, name, sql in migration_files():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)"
            )
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,)).fetchone():
                continue
            for statement in statements(sql):
                conn.execute(to_postgres(statement))
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
        applied.append(name)
    return applied
