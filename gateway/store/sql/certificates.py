"""Client certificates bound to credentials (mTLS): the ``CertificateStore`` aggregate."""

from __future__ import annotations

from gateway.core.ports.store import CertificateBindingRow
from gateway.store.sql.base import SqlPrimitives


class CertificateSql(SqlPrimitives):
    """Certificate bindings (``certificate_bindings``, migration 0005)."""

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
