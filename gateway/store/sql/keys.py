"""Key rows: the ``KeyStore`` aggregate of gateway/core/ports/store.py."""

from __future__ import annotations

from gateway.core.model import KeyRecord, KeyState
from gateway.core.ports.store import DuplicateAlias
from gateway.store.sql.base import KEY_COLUMNS, UPDATABLE_KEY_COLUMNS, IntegrityError, SqlPrimitives, row_to_key


class KeySql(SqlPrimitives):
    """Keys (``keys``; a key's first version row is written with it)."""

    def insert_key(self, rec: KeyRecord) -> None:
        cols = ", ".join(KEY_COLUMNS)
        marks = ", ".join("?" for _ in KEY_COLUMNS)
        values = tuple(int(v) if isinstance(v, bool | KeyState) else v for v in (getattr(rec, c) for c in KEY_COLUMNS))
        try:
            with self._tx() as conn:
                conn.execute(f"INSERT INTO keys ({cols}) VALUES ({marks})", values)  # noqa: S608 - fixed names
                conn.execute(
                    "INSERT INTO key_versions (key_id, version, created_at) VALUES (?, ?, ?)",
                    (rec.key_id, rec.current_version, rec.creation_date),
                )
        except IntegrityError as exc:
            if "key_alias" in str(exc):
                raise DuplicateAlias(rec.key_alias) from exc
            raise

    def get_key(self, project_id: str, key_id: str) -> KeyRecord | None:
        row = self._one("SELECT * FROM keys WHERE key_id = ? AND project_id = ?", (key_id, project_id))
        return row_to_key(row) if row else None

    def get_key_by_id(self, key_id: str) -> KeyRecord | None:
        row = self._one("SELECT * FROM keys WHERE key_id = ?", (key_id,))
        return row_to_key(row) if row else None

    def update_key(self, key_id: str, **changes: object) -> None:
        unknown = set(changes) - UPDATABLE_KEY_COLUMNS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assigns = ", ".join(f"{name} = ?" for name in changes)
        values = tuple(int(v) if isinstance(v, bool | KeyState) else v for v in changes.values())
        try:
            with self._tx() as conn:
                conn.execute(f"UPDATE keys SET {assigns} WHERE key_id = ?", (*values, key_id))  # noqa: S608
        except IntegrityError as exc:
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
        with self._read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM keys WHERE {where}", args).fetchone()[0]  # noqa: S608
            rows = conn.execute(
                f"SELECT * FROM keys WHERE {where} ORDER BY creation_date, key_id LIMIT ? OFFSET ?",  # noqa: S608
                (*args, limit, offset),
            ).fetchall()
        return [row_to_key(r) for r in rows], total

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
        return [row_to_key(r) for r in rows]

    def all_key_ids(self) -> set[str]:
        return {r[0] for r in self._all("SELECT key_id FROM keys")}
