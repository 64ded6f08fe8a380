"""Leases: the ``LeaseStore`` aggregate (once-only work across processes and nodes)."""

from __future__ import annotations

from gateway.store.sql.base import SqlPrimitives


class LeaseSql(SqlPrimitives):
    """Leases (``leases``, migration 0007), see gateway/core/leases.py."""

    def try_lease(self, name: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        """Acquire or renew lease ``name`` for ``holder`` until ``now_ms + ttl_ms``.

        One statement, so it is atomic on SQLite and PostgreSQL alike: the row is inserted when
        absent, taken over when expired, renewed when ``holder`` has it, and left alone (0 rows
        affected: False) while another holder's lease runs.
        """
        with self._tx() as conn:
            changed = conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.expires_at < ? OR leases.holder = ?",
                (name, holder, now_ms + ttl_ms, now_ms, holder),
            ).rowcount
        return changed == 1

    def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up (only if ``holder`` still has it), so another process need not wait out its ttl."""
        with self._tx() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
