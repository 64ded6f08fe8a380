"""Bring-your-own-key rows: the ``ImportStore`` aggregate."""

from __future__ import annotations

import sqlite3

from gateway.core.model import KeyRecord, KeyState
from gateway.core.ports.store import ImportParamsRow, MaterialRow
from gateway.store.sql.base import SqlPrimitives, row_to_key


class ImportSql(SqlPrimitives):
    """Import parameters (``import_parameters``) and imported material (``imported_material``)."""

    def put_import_parameters(self, row: ImportParamsRow) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO import_parameters (token_id, key_id, wrapping_label, wrapping_algorithm, public_key,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    row.token_id,
                    row.key_id,
                    row.wrapping_label,
                    row.wrapping_algorithm,
                    row.public_key,
                    row.created_at,
                    row.expires_at,
                ),
            )

    def set_import_public_key(self, token_id: str, public_key: bytes) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE import_parameters SET public_key = ? WHERE token_id = ?", (public_key, token_id))

    def get_import_parameters(self, token_id: str) -> ImportParamsRow | None:
        row = self._one("SELECT * FROM import_parameters WHERE token_id = ?", (token_id,))
        return _row_to_import(row) if row else None

    def live_import_parameters(self, key_id: str, wrapping_algorithm: str, valid_after: int) -> ImportParamsRow | None:
        row = self._one(
            "SELECT * FROM import_parameters WHERE key_id = ? AND wrapping_algorithm = ? AND expires_at > ?"
            " AND public_key IS NOT NULL ORDER BY expires_at DESC LIMIT 1",
            (key_id, wrapping_algorithm, valid_after),
        )
        return _row_to_import(row) if row else None

    def expired_import_parameters(self, now_ms: int) -> list[ImportParamsRow]:
        rows = self._all("SELECT * FROM import_parameters WHERE expires_at <= ?", (now_ms,))
        return [_row_to_import(r) for r in rows]

    def delete_import_parameters(self, token_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM import_parameters WHERE token_id = ?", (token_id,))

    def get_key_material(self, key_id: str) -> MaterialRow | None:
        row = self._one(
            "SELECT check_value, first_imported_at, present FROM imported_material WHERE key_id = ?", (key_id,)
        )
        return MaterialRow(bytes(row[0]), row[1], bool(row[2])) if row else None

    def material_imported(self, key_id: str, check_value: bytes, now_ms: int, expiration_time: int | None) -> None:
        """Material is on the token: record (or keep) its check value and enable the key, in one commit."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO imported_material (key_id, check_value, first_imported_at, present) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (key_id) DO UPDATE SET present = 1",
                (key_id, check_value, now_ms),
            )
            conn.execute(
                "UPDATE keys SET key_state = ?, expiration_time = ? WHERE key_id = ?",
                (int(KeyState.ENABLED), expiration_time, key_id),
            )

    def material_removed(self, key_id: str) -> None:
        """Back to pending import (the token object is destroyed after this commit)."""
        with self._tx() as conn:
            conn.execute("UPDATE imported_material SET present = 0 WHERE key_id = ?", (key_id,))
            conn.execute(
                "UPDATE keys SET key_state = ?, expiration_time = NULL WHERE key_id = ?",
                (int(KeyState.PENDING_IMPORT), key_id),
            )

    def keys_with_expired_material(self, now_ms: int) -> list[KeyRecord]:
        rows = self._all(
            "SELECT * FROM keys WHERE origin = 'external' AND key_state IN (?, ?)"
            " AND expiration_time IS NOT NULL AND expiration_time <= ?",
            (int(KeyState.ENABLED), int(KeyState.DISABLED), now_ms),
        )
        return [row_to_key(r) for r in rows]


def _row_to_import(row: sqlite3.Row) -> ImportParamsRow:
    pub = row["public_key"]
    return ImportParamsRow(
        token_id=row["token_id"],
        key_id=row["key_id"],
        wrapping_label=row["wrapping_label"],
        wrapping_algorithm=row["wrapping_algorithm"],
        public_key=bytes(pub) if pub is not None else None,
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
