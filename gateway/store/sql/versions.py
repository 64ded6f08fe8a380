"""Key versions and rotation settings: the ``KeyVersionStore`` aggregate.

A rotation is settled crash-safely: ``begin_key_version`` claims a pending version row,
``finish_key_version`` settles it and moves ``keys.current_version`` in one transaction.
"""

from __future__ import annotations

from gateway.core.model import KeyRecord, KeyState
from gateway.core.ports.store import RotationRow
from gateway.store.sql.base import IntegrityError, Rollback, SqlPrimitives, row_to_key


class KeyVersionSql(SqlPrimitives):
    """Key versions (``key_versions``) and rotation settings (``key_rotation``)."""

    def key_versions(self, key_id: str) -> list[int]:
        rows = self._all("SELECT version FROM key_versions WHERE key_id = ? ORDER BY version", (key_id,))
        return [r[0] for r in rows]

    def add_key_version(self, key_id: str, version: int, created_at: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO key_versions (key_id, version, created_at) VALUES (?, ?, ?)",
                (key_id, version, created_at),
            )

    def get_rotation(self, key_id: str) -> RotationRow | None:
        row = self._one(
            "SELECT enabled, interval_days, base_at, last_rotation_at, rotations FROM key_rotation WHERE key_id = ?",
            (key_id,),
        )
        return RotationRow(bool(row[0]), row[1], row[2], row[3], row[4]) if row else None

    def put_rotation(self, key_id: str, *, enabled: bool, interval_days: int, base_at: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO key_rotation (key_id, enabled, interval_days, base_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key_id) DO UPDATE SET enabled = excluded.enabled,"
                " interval_days = excluded.interval_days, base_at = excluded.base_at",
                (key_id, int(enabled), interval_days, base_at),
            )

    def begin_key_version(self, key_id: str, version: int, created_at: int) -> bool:
        """Claim ``version`` as pending; False when that version exists (or is being made) already."""
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO key_versions (key_id, version, created_at, pending) VALUES (?, ?, ?, 1)",
                    (key_id, version, created_at),
                )
        except IntegrityError:
            return False
        return True

    def finish_key_version(self, key_id: str, version: int, now_ms: int) -> bool:
        """Settle a pending version and make it current, in one transaction.

        False (and nothing changed) when the pending row is gone or the key is no longer at
        ``version - 1``: the caller must not use the object it made.
        """
        try:
            with self._tx() as conn:
                done = conn.execute(
                    "UPDATE key_versions SET pending = 0, created_at = ?"
                    " WHERE key_id = ? AND version = ? AND pending = 1",
                    (now_ms, key_id, version),
                ).rowcount
                moved = conn.execute(
                    "UPDATE keys SET current_version = ? WHERE key_id = ? AND current_version = ?",
                    (version, key_id, version - 1),
                ).rowcount
                if done != 1 or moved != 1:
                    raise Rollback
                conn.execute(
                    "INSERT INTO key_rotation (key_id, enabled, base_at, last_rotation_at, rotations)"
                    " VALUES (?, 0, ?, ?, 1) ON CONFLICT (key_id) DO UPDATE SET base_at = excluded.base_at,"
                    " last_rotation_at = excluded.last_rotation_at, rotations = key_rotation.rotations + 1",
                    (key_id, now_ms, now_ms),
                )
        except Rollback:
            return False
        return True

    def drop_key_version(self, key_id: str, version: int) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM key_versions WHERE key_id = ? AND version = ? AND pending = 1", (key_id, version))

    def pending_key_versions(self) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in self._all("SELECT key_id, version FROM key_versions WHERE pending = 1")]

    def keys_due_for_rotation(self, now_ms: int, day_ms: int) -> list[KeyRecord]:
        rows = self._all(
            "SELECT keys.* FROM key_rotation JOIN keys USING (key_id)"
            " WHERE key_rotation.enabled = 1 AND key_rotation.base_at + key_rotation.interval_days * ? <= ?"
            " AND keys.key_state = ? AND keys.provisioning = 0 ORDER BY key_rotation.base_at",
            (day_ms, now_ms, int(KeyState.ENABLED)),
        )
        return [row_to_key(r) for r in rows]

    def rotation_enabled_among(self, key_ids: list[str]) -> set[str]:
        if not key_ids:
            return set()
        marks = ", ".join("?" for _ in key_ids)
        rows = self._all(
            f"SELECT key_id FROM key_rotation WHERE enabled = 1 AND key_id IN ({marks})",  # noqa: S608
            tuple(key_ids),
        )
        return {r[0] for r in rows}
