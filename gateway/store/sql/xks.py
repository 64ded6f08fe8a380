"""AWS KMS External Key Store rows: the ``XksStore`` aggregate (keystores, credentials, key mappings)."""

from __future__ import annotations

from gateway.core.ports.store import XksCredentialRow, XksKeyRow, XksKeystoreRow
from gateway.store.sql.base import IntegrityError, SqlPrimitives

_KEYSTORE = "SELECT uri_prefix, project_id, created_at FROM xks_keystores"
_CREDENTIAL = "SELECT access_key_id, uri_prefix, sealed_secret, created_at FROM xks_credentials"
_KEY = "SELECT uri_prefix, xks_key_id, key_id, key_usage, created_at FROM xks_keys"


def _usage_text(usage: tuple[str, ...]) -> str:
    return ",".join(usage)


def _key_row(row: tuple) -> XksKeyRow:
    return XksKeyRow(row[0], row[1], row[2], tuple(u for u in row[3].split(",") if u), row[4])


def _credential_row(row: tuple) -> XksCredentialRow:
    return XksCredentialRow(row[0], row[1], bytes(row[2]), row[3])


class XksSql(SqlPrimitives):
    """Keystores (``xks_keystores``), credentials (``xks_credentials``), mappings (``xks_keys``), migration 0008."""

    # -- keystores ----------------------------------------------------------------------
    def put_xks_keystore(self, row: XksKeystoreRow) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO xks_keystores (uri_prefix, project_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (uri_prefix) DO NOTHING",
                (row.uri_prefix, row.project_id, row.created_at),
            )
            return cur.rowcount > 0

    def get_xks_keystore(self, uri_prefix: str) -> XksKeystoreRow | None:
        row = self._one(_KEYSTORE + " WHERE uri_prefix = ?", (uri_prefix,))
        return XksKeystoreRow(*row) if row else None

    def list_xks_keystores(self) -> list[XksKeystoreRow]:
        return [XksKeystoreRow(*r) for r in self._all(_KEYSTORE + " ORDER BY uri_prefix")]

    def delete_xks_keystore(self, uri_prefix: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM xks_keystores WHERE uri_prefix = ?", (uri_prefix,)).rowcount > 0

    # -- credentials --------------------------------------------------------------------
    def put_xks_credential(self, row: XksCredentialRow) -> bool:
        try:  # a keystore deleted meanwhile fails the foreign key: outside the transaction (base.py)
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO xks_credentials (access_key_id, uri_prefix, sealed_secret, created_at)"
                    " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM xks_keystores WHERE uri_prefix = ?)"
                    " ON CONFLICT (access_key_id) DO NOTHING",
                    (row.access_key_id, row.uri_prefix, row.sealed_secret, row.created_at, row.uri_prefix),
                )
                return cur.rowcount > 0
        except IntegrityError:
            return False

    def get_xks_credential(self, access_key_id: str) -> XksCredentialRow | None:
        row = self._one(_CREDENTIAL + " WHERE access_key_id = ?", (access_key_id,))
        return _credential_row(row) if row else None

    def list_xks_credentials(self, uri_prefix: str) -> list[XksCredentialRow]:
        rows = self._all(_CREDENTIAL + " WHERE uri_prefix = ? ORDER BY created_at, access_key_id", (uri_prefix,))
        return [_credential_row(r) for r in rows]

    def delete_xks_credential(self, access_key_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM xks_credentials WHERE access_key_id = ?", (access_key_id,)).rowcount > 0

    # -- key mappings -------------------------------------------------------------------
    def put_xks_key(self, row: XksKeyRow) -> bool:
        try:
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO xks_keys (uri_prefix, xks_key_id, key_id, key_usage, created_at)"
                    " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM xks_keystores WHERE uri_prefix = ?)"
                    " AND EXISTS (SELECT 1 FROM keys WHERE key_id = ?)"
                    " ON CONFLICT (uri_prefix, xks_key_id) DO UPDATE SET key_id = excluded.key_id,"
                    " key_usage = excluded.key_usage, created_at = excluded.created_at",
                    (
                        row.uri_prefix,
                        row.xks_key_id,
                        row.key_id,
                        _usage_text(row.key_usage),
                        row.created_at,
                        row.uri_prefix,
                        row.key_id,
                    ),
                )
                return cur.rowcount > 0
        except IntegrityError:
            return False

    def get_xks_key(self, uri_prefix: str, xks_key_id: str) -> XksKeyRow | None:
        row = self._one(_KEY + " WHERE uri_prefix = ? AND xks_key_id = ?", (uri_prefix, xks_key_id))
        return _key_row(row) if row else None

    def list_xks_keys(self, uri_prefix: str) -> list[XksKeyRow]:
        return [_key_row(r) for r in self._all(_KEY + " WHERE uri_prefix = ? ORDER BY xks_key_id", (uri_prefix,))]

    def delete_xks_key(self, uri_prefix: str, xks_key_id: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM xks_keys WHERE uri_prefix = ? AND xks_key_id = ?", (uri_prefix, xks_key_id))
            return cur.rowcount > 0
