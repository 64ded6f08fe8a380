"""Key tags and tag queries: the ``TagStore`` aggregate."""

from __future__ import annotations

import sqlite3

from gateway.core.model import KeyRecord
from gateway.store.sql.base import Rollback, SqlPrimitives, row_to_key


class TagSql(SqlPrimitives):
    """Key tags (``key_tags``) and the tag queries of list-resource-instances."""

    def key_tags(self, key_id: str) -> dict[str, str]:
        rows = self._all("SELECT tag_key, tag_value FROM key_tags WHERE key_id = ? ORDER BY tag_key", (key_id,))
        return {r[0]: r[1] for r in rows}

    def change_tags(
        self, key_id: str, project_id: str, upsert: dict[str, str], delete: dict[str, str | None], max_tags: int
    ) -> bool:
        """Apply deletions (a value of None deletes whatever value) and upserts atomically.

        False (nothing changed) when the key would end up with more than ``max_tags`` tags.
        """
        try:
            with self._tx() as conn:
                self._change_tags(conn, key_id, project_id, upsert, delete, max_tags)
        except Rollback:
            return False
        return True

    @staticmethod
    def _change_tags(
        conn: sqlite3.Connection,
        key_id: str,
        project_id: str,
        upsert: dict[str, str],
        delete: dict[str, str | None],
        max_tags: int,
    ) -> None:
        for tag_key, value in delete.items():
            if value is None:
                conn.execute("DELETE FROM key_tags WHERE key_id = ? AND tag_key = ?", (key_id, tag_key))
            else:
                conn.execute(
                    "DELETE FROM key_tags WHERE key_id = ? AND tag_key = ? AND tag_value = ?",
                    (key_id, tag_key, value),
                )
        for tag_key, value in upsert.items():
            conn.execute(
                "INSERT INTO key_tags (key_id, project_id, tag_key, tag_value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                (key_id, project_id, tag_key, value),
            )
        count = conn.execute("SELECT COUNT(*) FROM key_tags WHERE key_id = ?", (key_id,)).fetchone()[0]
        if count > max_tags:
            raise Rollback

    def project_tags(self, project_id: str) -> dict[str, list[str]]:
        rows = self._all(
            "SELECT DISTINCT key_tags.tag_key, key_tags.tag_value FROM key_tags JOIN keys USING (key_id)"
            " WHERE key_tags.project_id = ? AND keys.provisioning = 0 ORDER BY 1, 2",
            (project_id,),
        )
        out: dict[str, list[str]] = {}
        for tag_key, value in rows:
            out.setdefault(tag_key, []).append(value)
        return out

    def keys_by_tags(
        self,
        project_id: str,
        tags: list[tuple[str, list[str]]],
        name_contains: str | None,
        offset: int,
        limit: int | None,
    ) -> tuple[list[KeyRecord], int]:
        """The project's keys carrying every tag key given (any of its values; no values: any value)."""
        where = ["project_id = ?", "provisioning = 0"]
        args: list[object] = [project_id]
        for tag_key, values in tags:
            cond = "EXISTS (SELECT 1 FROM key_tags t WHERE t.key_id = keys.key_id AND t.tag_key = ?"
            args.append(tag_key)
            if values:
                cond += f" AND t.tag_value IN ({', '.join('?' for _ in values)})"
                args.extend(values)
            where.append(cond + ")")
        if name_contains:
            where.append("instr(key_alias, ?) > 0")
            args.append(name_contains)
        clause = " AND ".join(where)
        with self._read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM keys WHERE {clause}", tuple(args)).fetchone()[0]  # noqa: S608
            if limit is None:
                return [], total
            rows = conn.execute(
                f"SELECT * FROM keys WHERE {clause} ORDER BY creation_date, key_id LIMIT ? OFFSET ?",  # noqa: S608
                (*args, limit, offset),
            ).fetchall()
        return [row_to_key(r) for r in rows], total

    def tags_of_keys(self, key_ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {k: {} for k in key_ids}
        if not key_ids:
            return out
        marks = ", ".join("?" for _ in key_ids)
        rows = self._all(
            f"SELECT key_id, tag_key, tag_value FROM key_tags WHERE key_id IN ({marks}) ORDER BY tag_key",  # noqa: S608
            tuple(key_ids),
        )
        for key_id, tag_key, value in rows:
            out[key_id][tag_key] = value
        return out
