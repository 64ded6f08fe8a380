"""The AWS KMS API's rows: the ``AwsStore`` aggregate (accounts, access keys, keys' regions and
policies, aliases, grants, rotation notes), migration 0009."""

from __future__ import annotations

from typing import Any

from gateway.core.ports.store import (
    AwsAccountRow,
    AwsAliasRow,
    AwsCredentialRow,
    AwsGrantRow,
    AwsKeyRow,
    AwsRotationRow,
)
from gateway.store.sql.base import IntegrityError, SqlPrimitives

_ACCOUNT = "SELECT account_id, project_id, created_at FROM aws_accounts"
_CREDENTIAL = (
    "SELECT access_key_id, account_id, user_name, sealed_secret, allowed_actions, created_at FROM aws_credentials"
)
_KEY = "SELECT a.key_id, a.account_id, a.region, a.policy, a.created_at FROM aws_keys a"
_ALIAS = "SELECT account_id, region, alias_name, key_id, created_at, updated_at FROM aws_aliases"
_GRANT_COLUMNS = (
    "grant_id",
    "key_id",
    "name",
    "grantee_principal",
    "retiring_principal",
    "issuing_account",
    "operations",
    "constraints",
    "grant_token",
    "created_at",
)
_GRANT = f"SELECT {', '.join(_GRANT_COLUMNS)} FROM aws_grants"  # noqa: S608 - column names only


def _credential(row: Any) -> AwsCredentialRow:
    actions = frozenset(a for a in row[4].split(",") if a) if row[4] is not None else None
    return AwsCredentialRow(row[0], row[1], row[2], bytes(row[3]), actions, row[5])


def _grant(row: Any) -> AwsGrantRow:
    values = list(row)
    values[6] = tuple(op for op in values[6].split(",") if op)
    return AwsGrantRow(*values)


class AwsSql(SqlPrimitives):
    """``aws_accounts``, ``aws_credentials``, ``aws_keys``, ``aws_aliases``, ``aws_grants``, ``aws_rotations``."""

    # -- accounts and access keys ---------------------------------------------------------
    def put_aws_account(self, row: AwsAccountRow) -> AwsAccountRow:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO aws_accounts (account_id, project_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (account_id) DO NOTHING",
                (row.account_id, row.project_id, row.created_at),
            )
            stored = conn.execute(_ACCOUNT + " WHERE account_id = ?", (row.account_id,)).fetchone()
        return AwsAccountRow(*stored)

    def get_aws_account(self, account_id: str) -> AwsAccountRow | None:
        row = self._one(_ACCOUNT + " WHERE account_id = ?", (account_id,))
        return AwsAccountRow(*row) if row else None

    def put_aws_credential(self, row: AwsCredentialRow) -> bool:
        actions = ",".join(sorted(row.allowed_actions)) if row.allowed_actions is not None else None
        try:
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO aws_credentials (access_key_id, account_id, user_name, sealed_secret,"
                    " allowed_actions, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (access_key_id) DO NOTHING",
                    (row.access_key_id, row.account_id, row.user_name, row.sealed_secret, actions, row.created_at),
                )
                return cur.rowcount > 0
        except IntegrityError:
            return False

    def get_aws_credential(self, access_key_id: str) -> AwsCredentialRow | None:
        row = self._one(_CREDENTIAL + " WHERE access_key_id = ?", (access_key_id,))
        return _credential(row) if row else None

    # -- keys -----------------------------------------------------------------------------
    def put_aws_key(self, row: AwsKeyRow) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO aws_keys (key_id, account_id, region, policy, created_at) VALUES (?, ?, ?, ?, ?)",
                (row.key_id, row.account_id, row.region, row.policy, row.created_at),
            )

    def get_aws_key(self, key_id: str) -> AwsKeyRow | None:
        row = self._one(_KEY + " WHERE a.key_id = ?", (key_id,))
        return AwsKeyRow(*row) if row else None

    def list_aws_keys(self, account_id: str, region: str, offset: int, limit: int) -> tuple[list[AwsKeyRow], int]:
        where = " JOIN keys k ON k.key_id = a.key_id WHERE a.account_id = ? AND a.region = ? AND k.provisioning = 0"
        with self._read() as conn:
            count = "SELECT COUNT(*) FROM aws_keys a" + where  # noqa: S608 - constant clauses, values bound
            total = conn.execute(count, (account_id, region)).fetchone()[0]
            rows = conn.execute(
                _KEY + where + " ORDER BY a.created_at, a.key_id LIMIT ? OFFSET ?", (account_id, region, limit, offset)
            ).fetchall()
        return [AwsKeyRow(*r) for r in rows], total

    def aws_key_ids(self) -> list[str]:
        return [r[0] for r in self._all("SELECT key_id FROM aws_keys ORDER BY key_id")]

    def set_aws_key_policy(self, key_id: str, policy: str) -> bool:
        with self._tx() as conn:
            return conn.execute("UPDATE aws_keys SET policy = ? WHERE key_id = ?", (policy, key_id)).rowcount > 0

    # -- aliases --------------------------------------------------------------------------
    def put_aws_alias(self, row: AwsAliasRow) -> bool:
        try:
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO aws_aliases (account_id, region, alias_name, key_id, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, region, alias_name) DO NOTHING",
                    (row.account_id, row.region, row.alias_name, row.key_id, row.created_at, row.updated_at),
                )
                return cur.rowcount > 0
        except IntegrityError:  # the key was deleted meanwhile
            return False

    def retarget_aws_alias(self, account_id: str, region: str, alias_name: str, key_id: str, now_ms: int) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE aws_aliases SET key_id = ?, updated_at = ?"
                " WHERE account_id = ? AND region = ? AND alias_name = ?",
                (key_id, now_ms, account_id, region, alias_name),
            )
            return cur.rowcount > 0

    def delete_aws_alias(self, account_id: str, region: str, alias_name: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM aws_aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
                (account_id, region, alias_name),
            )
            return cur.rowcount > 0

    def get_aws_alias(self, account_id: str, region: str, alias_name: str) -> AwsAliasRow | None:
        row = self._one(
            _ALIAS + " WHERE account_id = ? AND region = ? AND alias_name = ?", (account_id, region, alias_name)
        )
        return AwsAliasRow(*row) if row else None

    def list_aws_aliases(
        self, account_id: str, region: str, key_id: str | None, offset: int, limit: int
    ) -> tuple[list[AwsAliasRow], int]:
        where, args = (
            " WHERE account_id = ? AND region = ?",
            (account_id, region, *(() if key_id is None else (key_id,))),
        )
        if key_id is not None:
            where += " AND key_id = ?"
        with self._read() as conn:
            count = "SELECT COUNT(*) FROM aws_aliases" + where  # noqa: S608 - constant clauses, values bound
            total = conn.execute(count, args).fetchone()[0]
            rows = conn.execute(_ALIAS + where + " ORDER BY alias_name LIMIT ? OFFSET ?", (*args, limit, offset))
            return [AwsAliasRow(*r) for r in rows.fetchall()], total

    # -- grants ---------------------------------------------------------------------------
    def put_aws_grant(self, row: AwsGrantRow, max_per_key: int) -> bool:
        values = tuple(",".join(row.operations) if c == "operations" else getattr(row, c) for c in _GRANT_COLUMNS)
        marks = ", ".join("?" for _ in _GRANT_COLUMNS)
        try:
            with self._tx() as conn:
                count = conn.execute("SELECT COUNT(*) FROM aws_grants WHERE key_id = ?", (row.key_id,)).fetchone()[0]
                if count >= max_per_key:
                    return False
                conn.execute(f"INSERT INTO aws_grants ({', '.join(_GRANT_COLUMNS)}) VALUES ({marks})", values)  # noqa: S608
                return True
        except IntegrityError:
            return False

    def get_aws_grant(self, grant_id: str) -> AwsGrantRow | None:
        row = self._one(_GRANT + " WHERE grant_id = ?", (grant_id,))
        return _grant(row) if row else None

    def get_aws_grant_by_token(self, grant_token: str) -> AwsGrantRow | None:
        row = self._one(_GRANT + " WHERE grant_token = ?", (grant_token,))
        return _grant(row) if row else None

    def delete_aws_grant(self, grant_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM aws_grants WHERE grant_id = ?", (grant_id,)).rowcount > 0

    def list_aws_grants(self, key_id: str, offset: int, limit: int) -> tuple[list[AwsGrantRow], int]:
        return self._grant_page(" WHERE key_id = ?", (key_id,), offset, limit)

    def list_aws_retirable_grants(self, principal: str, offset: int, limit: int) -> tuple[list[AwsGrantRow], int]:
        return self._grant_page(" WHERE retiring_principal = ?", (principal,), offset, limit)

    def _grant_page(self, where: str, args: tuple, offset: int, limit: int) -> tuple[list[AwsGrantRow], int]:
        with self._read() as conn:
            count = "SELECT COUNT(*) FROM aws_grants" + where  # noqa: S608 - constant clauses, values bound
            total = conn.execute(count, args).fetchone()[0]
            rows = conn.execute(
                _GRANT + where + " ORDER BY created_at, grant_id LIMIT ? OFFSET ?", (*args, limit, offset)
            ).fetchall()
        return [_grant(r) for r in rows], total

    def aws_grants_for(self, key_id: str, grantee_principal: str) -> list[AwsGrantRow]:
        rows = self._all(_GRANT + " WHERE key_id = ? AND grantee_principal = ?", (key_id, grantee_principal))
        return [_grant(r) for r in rows]

    # -- rotations ------------------------------------------------------------------------
    def note_aws_rotation(self, key_id: str, version: int, rotation_type: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO aws_rotations (key_id, version, rotation_type) VALUES (?, ?, ?)"
                " ON CONFLICT (key_id, version) DO UPDATE SET rotation_type = excluded.rotation_type",
                (key_id, version, rotation_type),
            )

    def aws_key_rotations(self, key_id: str, offset: int, limit: int) -> tuple[list[AwsRotationRow], int]:
        where = " FROM key_versions v WHERE v.key_id = ? AND v.version > 1 AND v.pending = 0"
        with self._read() as conn:
            total = conn.execute("SELECT COUNT(*)" + where, (key_id,)).fetchone()[0]
            columns = (
                "SELECT v.version, v.created_at, COALESCE((SELECT r.rotation_type FROM aws_rotations r"
                " WHERE r.key_id = v.key_id AND r.version = v.version), 'AUTOMATIC')"
            )
            page = columns + where + " ORDER BY v.version LIMIT ? OFFSET ?"
            rows = conn.execute(page, (key_id, limit, offset)).fetchall()
        return [AwsRotationRow(*r) for r in rows], total
