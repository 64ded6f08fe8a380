"""Grants: the ``GrantStore`` aggregate."""

from __future__ import annotations

import sqlite3

from gateway.core.model import Grant
from gateway.store.sql.base import SqlPrimitives

_GRANT_COLUMNS = [
    "grant_id",
    "key_id",
    "project_id",
    "name",
    "grantee_principal",
    "grantee_principal_type",
    "retiring_principal",
    "operations",
    "issuing_principal",
    "creation_date",
]


def _row_to_grant(row: sqlite3.Row) -> Grant:
    data = {name: row[name] for name in _GRANT_COLUMNS}
    data["operations"] = [op for op in data["operations"].split(",") if op]
    return Grant(**data)


class GrantSql(SqlPrimitives):
    """Grants (``grants``): what a principal of another project may call on a key."""

    def insert_grant(self, grant: Grant, max_per_key: int) -> bool:
        """Insert unless the key already holds ``max_per_key`` grants (checked in the same transaction)."""
        values = tuple(",".join(grant.operations) if c == "operations" else getattr(grant, c) for c in _GRANT_COLUMNS)
        with self._tx() as conn:
            count = conn.execute("SELECT COUNT(*) FROM grants WHERE key_id = ?", (grant.key_id,)).fetchone()[0]
            if count >= max_per_key:
                return False
            conn.execute(
                f"INSERT INTO grants ({', '.join(_GRANT_COLUMNS)}) VALUES ({', '.join('?' for _ in _GRANT_COLUMNS)})",  # noqa: S608
                values,
            )
        return True

    def get_grant(self, grant_id: str) -> Grant | None:
        row = self._one("SELECT * FROM grants WHERE grant_id = ?", (grant_id,))
        return _row_to_grant(row) if row else None

    def delete_grant(self, grant_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM grants WHERE grant_id = ?", (grant_id,)).rowcount == 1

    def list_grants(self, key_id: str, offset: int, limit: int) -> tuple[list[Grant], int]:
        with self._read() as conn:
            total = conn.execute("SELECT COUNT(*) FROM grants WHERE key_id = ?", (key_id,)).fetchone()[0]
            rows = conn.execute(
                "SELECT * FROM grants WHERE key_id = ? ORDER BY creation_date, grant_id LIMIT ? OFFSET ?",
                (key_id, limit, offset),
            ).fetchall()
        return [_row_to_grant(r) for r in rows], total

    def list_retirable_grants(self, principals: list[str], offset: int, limit: int) -> tuple[list[Grant], int]:
        marks = ", ".join("?" for _ in principals)
        where = f"retiring_principal IN ({marks})"  # placeholders only
        with self._read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM grants WHERE {where}", tuple(principals)).fetchone()[0]  # noqa: S608
            rows = conn.execute(
                f"SELECT * FROM grants WHERE {where} ORDER BY creation_date, grant_id LIMIT ? OFFSET ?",  # noqa: S608
                (*principals, limit, offset),
            ).fetchall()
        return [_row_to_grant(r) for r in rows], total

    def granted_operations(self, key_id: str, user_id: str, domain_id: str) -> set[str] | None:
        """Union of the operations granted on a key to this user or its domain; None without any grant."""
        rows = self._all(
            "SELECT grantee_principal_type, grantee_principal, operations FROM grants"
            " WHERE key_id = ? AND grantee_principal IN (?, ?)",
            (key_id, user_id, domain_id),
        )
        ops: set[str] | None = None
        for kind, principal, listed in rows:
            if (kind == "user" and principal == user_id) or (kind == "domain" and principal == domain_id):
                ops = (ops or set()) | set(listed.split(","))
        return ops

    def max_grants_per_key(self, project_id: str) -> int:
        row = self._one(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM grants WHERE project_id = ? GROUP BY key_id) AS per_key",
            (project_id,),
        )
        return int(row[0]) if row and row[0] is not None else 0
