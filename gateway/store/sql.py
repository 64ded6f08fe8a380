"""What the SQL of the metadata store relies on, whichever database runs it.

The store's methods are written once, against three primitives every adapter provides:
``_one(sql, args)`` / ``_all(sql, args)`` for reads and ``_tx()`` for a write transaction
yielding a connection-like object whose ``execute(sql, args)`` returns a cursor with
``fetchone``/``fetchall``/``rowcount``. Rows are addressable by position and by column name.
SQL uses ``?`` placeholders and portable syntax; the PostgreSQL adapter translates the rest.

New store methods go at the end of ``SqlStore`` (their signatures in gateway/core/ports/store.py) and must use only
these primitives with portable SQL: ``INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING``, no
sqlite-only functions, pragmas or ``rowid``. Inside ``with self._tx() as conn`` read through
``conn`` only (``_one``/``_all`` take another connection on PostgreSQL and would not see the
transaction's own writes). tests/test_store.py runs the methods on both databases.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any

from gateway.core.model import Grant, KeyRecord, KeyState
from gateway.core.ports.store import (
    CertificateBindingRow,
    CredentialRow,
    DuplicateAlias,
    ImportParamsRow,
    MaterialRow,
    RotationRow,
    TokenRow,
)


class IntegrityError(sqlite3.IntegrityError):
    """A unique, foreign-key or NOT NULL rule refused a write, on any backend.

    It derives from ``sqlite3.IntegrityError`` so that code written against SQLite
    (``except sqlite3.IntegrityError``) keeps working on PostgreSQL. A failed statement ends
    its transaction on PostgreSQL: catch it outside ``with self._tx()``, never inside.
    """


_KEY_COLUMNS = [f.name for f in fields(KeyRecord)]
_UPDATABLE = set(_KEY_COLUMNS) - {"key_id", "project_id", "domain_id", "creation_date"}


def _row_to_key(row: sqlite3.Row) -> KeyRecord:
    data = {name: row[name] for name in _KEY_COLUMNS}
    data["key_state"] = KeyState(data["key_state"])
    data["default_key_flag"] = bool(data["default_key_flag"])
    data["provisioning"] = bool(data["provisioning"])
    return KeyRecord(**data)


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


def _actions_to_text(actions: frozenset[str] | None) -> str | None:
    """A caller policy as stored: NULL = every action, else sorted comma-separated names."""
    return None if actions is None else ",".join(sorted(actions))


def _actions_from_text(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(a for a in text.split(",") if a)


class SqlStore:
    """The store's methods, once for every database: SqliteStore and PostgresStore provide the
    primitives below. Add new methods at the END of this class (a commented section per feature)."""

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

    # -- keys -------------------------------------------------------------------------
    def insert_key(self, rec: KeyRecord) -> None:
        cols = ", ".join(_KEY_COLUMNS)
        marks = ", ".join("?" for _ in _KEY_COLUMNS)
        values = tuple(int(v) if isinstance(v, bool | KeyState) else v for v in (getattr(rec, c) for c in _KEY_COLUMNS))
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
        return _row_to_key(row) if row else None

    def get_key_by_id(self, key_id: str) -> KeyRecord | None:
        row = self._one("SELECT * FROM keys WHERE key_id = ?", (key_id,))
        return _row_to_key(row) if row else None

    def update_key(self, key_id: str, **changes: object) -> None:
        unknown = set(changes) - _UPDATABLE
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
        return [_row_to_key(r) for r in rows], total

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
        return [_row_to_key(r) for r in rows]

    def provisioning_keys(self) -> list[KeyRecord]:
        return [_row_to_key(r) for r in self._all("SELECT * FROM keys WHERE provisioning = 1")]

    def all_key_ids(self) -> set[str]:
        return {r[0] for r in self._all("SELECT key_id FROM keys")}

    def key_versions(self, key_id: str) -> list[int]:
        rows = self._all("SELECT version FROM key_versions WHERE key_id = ? ORDER BY version", (key_id,))
        return [r[0] for r in rows]

    def add_key_version(self, key_id: str, version: int, created_at: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO key_versions (key_id, version, created_at) VALUES (?, ?, ?)",
                (key_id, version, created_at),
            )

    # -- principals -------------------------------------------------------------------
    def project_domain(self, project_id: str) -> str | None:
        row = self._one("SELECT domain_id FROM projects WHERE project_id = ?", (project_id,))
        return row[0] if row else None

    def put_project(self, project_id: str, domain_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO projects (project_id, domain_id) VALUES (?, ?) ON CONFLICT (project_id) DO NOTHING",
                (project_id, domain_id),
            )

    def put_credential(self, row: CredentialRow, created_at: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO credentials"
                " (access_key, sealed_secret, project_id, domain_id, user_id, created_at, allowed_actions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    row.access_key,
                    row.sealed_secret,
                    row.project_id,
                    row.domain_id,
                    row.user_id,
                    created_at,
                    _actions_to_text(row.allowed_actions),
                ),
            )

    def get_credential(self, access_key: str) -> CredentialRow | None:
        row = self._one(
            "SELECT access_key, sealed_secret, project_id, domain_id, user_id, allowed_actions"
            " FROM credentials WHERE access_key = ?",
            (access_key,),
        )
        return CredentialRow(row[0], bytes(row[1]), row[2], row[3], row[4], _actions_from_text(row[5])) if row else None

    def put_token(self, token_hash: str, row: TokenRow) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO auth_tokens (token_hash, project_id, domain_id, user_id, expires_at, allowed_actions)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token_hash,
                    row.project_id,
                    row.domain_id,
                    row.user_id,
                    row.expires_at,
                    _actions_to_text(row.allowed_actions),
                ),
            )

    def get_token(self, token_hash: str) -> TokenRow | None:
        row = self._one(
            "SELECT project_id, domain_id, user_id, expires_at, allowed_actions FROM auth_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        return TokenRow(row[0], row[1], row[2], row[3], _actions_from_text(row[4])) if row else None

    # -- rotation ---------------------------------------------------------------------
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
                    raise _Abort
                conn.execute(
                    "INSERT INTO key_rotation (key_id, enabled, base_at, last_rotation_at, rotations)"
                    " VALUES (?, 0, ?, ?, 1) ON CONFLICT (key_id) DO UPDATE SET base_at = excluded.base_at,"
                    " last_rotation_at = excluded.last_rotation_at, rotations = key_rotation.rotations + 1",
                    (key_id, now_ms, now_ms),
                )
        except _Abort:
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
        return [_row_to_key(r) for r in rows]

    def rotation_enabled_among(self, key_ids: list[str]) -> set[str]:
        if not key_ids:
            return set()
        marks = ", ".join("?" for _ in key_ids)
        rows = self._all(
            f"SELECT key_id FROM key_rotation WHERE enabled = 1 AND key_id IN ({marks})",  # noqa: S608
            tuple(key_ids),
        )
        return {r[0] for r in rows}

    # -- grants -----------------------------------------------------------------------
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

    # -- tags -------------------------------------------------------------------------
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
        except _Abort:
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
            raise _Abort

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
        return [_row_to_key(r) for r in rows], total

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

    # -- key import (BYOK) ------------------------------------------------------------
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
        return [_row_to_key(r) for r in rows]

    # -- caller policy (H1: allowed actions of credentials and tokens, migration 0004) ---------
    def set_credential_actions(self, access_key: str, actions: frozenset[str] | None) -> bool:
        """Replace a credential's allowed actions (None = every action); False if the key is unknown."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE credentials SET allowed_actions = ? WHERE access_key = ?",
                (_actions_to_text(actions), access_key),
            )
            return cur.rowcount > 0

    # -- mTLS certificate bindings (migration 0005; gateway/core/ports/store.py CertificateStore) -------
    def bind_certificate(self, row: CertificateBindingRow) -> CertificateBindingRow:
        """Bind a fingerprint to an access key; an existing binding is kept and returned as it is."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO certificate_bindings (fingerprint, access_key, subject, not_after, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
                (row.fingerprint, row.access_key, row.subject, row.not_after, row.created_at),
            )
            stored = conn.execute(
                "SELECT fingerprint, access_key, subject, not_after, created_at"
                " FROM certificate_bindings WHERE fingerprint = ?",
                (row.fingerprint,),
            ).fetchone()
        return CertificateBindingRow(*stored)

    def get_certificate_binding(self, fingerprint: str) -> CertificateBindingRow | None:
        row = self._one(
            "SELECT fingerprint, access_key, subject, not_after, created_at"
            " FROM certificate_bindings WHERE fingerprint = ?",
            (fingerprint,),
        )
        return CertificateBindingRow(*row) if row else None

    def unbind_certificate(self, fingerprint: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM certificate_bindings WHERE fingerprint = ?", (fingerprint,)).rowcount > 0

    def list_certificate_bindings(self, access_key: str | None = None) -> list[CertificateBindingRow]:
        sql = "SELECT fingerprint, access_key, subject, not_after, created_at FROM certificate_bindings"
        if access_key is None:
            rows = self._all(sql + " ORDER BY access_key, fingerprint")
        else:
            rows = self._all(sql + " WHERE access_key = ? ORDER BY fingerprint", (access_key,))
        return [CertificateBindingRow(*r) for r in rows]

    # -- leases (migration 0007): once-only work across processes and nodes -------------------
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

    # -- recovery: in-flight rows and orphan token objects (core/housekeeping.py, docs/recovery.md) --
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


class _Abort(Exception):
    """Raised inside a transaction to roll it back; caught by the method that raised it."""
