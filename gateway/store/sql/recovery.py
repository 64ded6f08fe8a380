"""What reconciliation settles after a crash: the ``RecoveryStore`` aggregate.

Rows left in flight (provisioning keys, pending versions) and token objects that no row knows
(orphans) with their first sighting; gateway/core/housekeeping.py and docs/recovery.md.
"""

from __future__ import annotations

from gateway.core.model import KeyRecord
from gateway.store.sql.base import SqlPrimitives, row_to_key


class RecoverySql(SqlPrimitives):
    """In-flight rows and orphan token objects (``orphan_objects``)."""

    def provisioning_keys(self) -> list[KeyRecord]:
        return [row_to_key(r) for r in self._all("SELECT * FROM keys WHERE provisioning = 1")]

    def finish_provisioning(self, key_id: str) -> bool:
        """Clear a key's provisioning mark. False when the row is gone: a reconcile dropped it as a
        crash's leftover, so its creator must not acknowledge the key."""
        with self._tx() as conn:
            conn.execute("UPDATE keys SET provisioning = 0 WHERE key_id = ? AND provisioning = 1", (key_id,))
        return self._one("SELECT 1 FROM keys WHERE key_id = ?", (key_id,)) is not None

    def stale_pending_key_versions(self, before_ms: int) -> list[tuple[str, int]]:
        """Pending version rows begun before ``before_ms`` (younger ones may be a live rotation)."""
        rows = self._all("SELECT key_id, version FROM key_versions WHERE pending = 1 AND created_at < ?", (before_ms,))
        return [(r[0], r[1]) for r in rows]

    def note_orphans(self, labels: list[str], now_ms: int) -> dict[str, int]:
        """Record the first sighting of each orphan label and forget labels that are no longer
        orphans; returns label -> first-seen time (ms) for ``labels``."""
        wanted = set(labels)
        with self._tx() as conn:
            for label in labels:
                conn.execute(
                    "INSERT INTO orphan_objects (label, first_seen) VALUES (?, ?) ON CONFLICT (label) DO NOTHING",
                    (label, now_ms),
                )
            rows = conn.execute("SELECT label, first_seen FROM orphan_objects").fetchall()
            for row in rows:
                if row[0] not in wanted:
                    conn.execute("DELETE FROM orphan_objects WHERE label = ?", (row[0],))
        return {row[0]: int(row[1]) for row in rows if row[0] in wanted}

    def forget_orphans(self, labels: list[str]) -> None:
        with self._tx() as conn:
            for label in labels:
                conn.execute("DELETE FROM orphan_objects WHERE label = ?", (label,))

    def drop_provisioning(self, key_id: str) -> bool:
        """Delete a key row only while it is still provisioning; False when its creator finished it
        meanwhile (a reconcile must never delete a key that was just acknowledged)."""
        with self._tx() as conn:
            return conn.execute("DELETE FROM keys WHERE key_id = ? AND provisioning = 1", (key_id,)).rowcount == 1
