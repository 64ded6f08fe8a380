"""Projects, credentials and bearer tokens: the ``PrincipalStore`` aggregate."""

from __future__ import annotations

from gateway.core.ports.store import CredentialRow, TokenRow
from gateway.store.sql.base import SqlPrimitives


def _actions_to_text(actions: frozenset[str] | None) -> str | None:
    """A caller policy as stored: NULL = every action, else sorted comma-separated names."""
    return None if actions is None else ",".join(sorted(actions))


def _actions_from_text(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(a for a in text.split(",") if a)


class PrincipalSql(SqlPrimitives):
    """Projects, AK/SK credentials (the secret sealed) and tokens (by SHA-256), with their allowed actions."""

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

    def set_credential_actions(self, access_key: str, actions: frozenset[str] | None) -> bool:
        """Replace a credential's allowed actions (None = every action); False if the key is unknown."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE credentials SET allowed_actions = ? WHERE access_key = ?",
                (_actions_to_text(actions), access_key),
            )
            return cur.rowcount > 0
