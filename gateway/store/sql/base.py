"""The primitives every store module is written against, and the rows shared by several of them.

An adapter (gateway/store/sqlite.py, gateway/store/postgres.py) provides four primitives:
``_one(sql, args)`` / ``_all(sql, args)`` for single reads, ``_read()`` for several reads on one
connection, and ``_tx()`` for a write transaction yielding a connection-like object whose
``execute(sql, args)`` returns a cursor with ``fetchone``/``fetchall``/``rowcount``. Rows are
addressable by position and by column name. SQL uses ``?`` placeholders and portable syntax
(``INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING``; no SQLite-only functions, pragmas or
``rowid``); the PostgreSQL adapter translates the rest. Inside ``with self._tx() as conn`` read
through ``conn`` only: ``_one``/``_all`` take another connection on PostgreSQL and would not see
the transaction's own writes.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any

from gateway.core.model import KeyRecord, KeyState


class IntegrityError(sqlite3.IntegrityError):
    """A unique, foreign-key or NOT NULL rule refused a write, on any backend.

    It derives from ``sqlite3.IntegrityError`` so that code written against SQLite
    (``except sqlite3.IntegrityError``) keeps working on PostgreSQL. A failed statement ends
    its transaction on PostgreSQL: catch it outside ``with self._tx()``, never inside.
    """


class Rollback(Exception):
    """Raised inside a transaction to roll it back; caught by the method that raised it."""


class SqlPrimitives:
    """What every aggregate's SQL relies on; the adapters implement it, the aggregates only use it."""

    path: str  # for messages (a PostgreSQL URL without its password)
    shared: bool  # MetadataStore.shared; each adapter sets its own

    @property
    def generation(self) -> int:
        """Changes on every commit to the store, this process's or another's (see the adapters)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[Any]:
        """A write transaction: yields a connection-like object, commits on exit, rolls back on error."""
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Any]:
        """A connection for several reads in a row (each statement sees the latest commit)."""
        raise NotImplementedError

    def _one(self, sql: str, args: tuple = ()) -> Any:
        raise NotImplementedError

    def _all(self, sql: str, args: tuple = ()) -> list[Any]:
        raise NotImplementedError


# -- key rows: read by the keys, versions, tags, imports and recovery aggregates ------------
KEY_COLUMNS = [f.name for f in fields(KeyRecord)]
UPDATABLE_KEY_COLUMNS = set(KEY_COLUMNS) - {"key_id", "project_id", "domain_id", "creation_date"}


def row_to_key(row: sqlite3.Row) -> KeyRecord:
    data = {name: row[name] for name in KEY_COLUMNS}
    data["key_state"] = KeyState(data["key_state"])
    data["default_key_flag"] = bool(data["default_key_flag"])
    data["provisioning"] = bool(data["provisioning"])
    return KeyRecord(**data)
