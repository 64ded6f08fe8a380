"""Callers' credentials (AK/SK) and bearer tokens.

Secret keys must be recoverable to check HMAC signatures, so they are sealed: encrypted
inside the token by the gateway's own non-extractable key and stored only as ciphertext.
Bearer tokens are random and stored as their SHA-256: a stolen database yields neither.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time

from gateway.core import ciphertext as ct
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.hsm.port import HsmPort
from gateway.store.port import CredentialRow, MetadataStore, TokenRow

SEAL_KEY_LABEL = "kmsgw:seal"
TOKEN_PREFIX = "kmsgw1."  # noqa: S105 - a format marker, not a secret
_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits
_CACHE_SECONDS = 300.0


def _hex_id() -> str:
    return secrets.token_hex(16)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock) -> None:
        self.store = store
        self.hsm = hsm
        self.clock = clock
        self._secrets: dict[str, tuple[float, str, Caller]] = {}
        self._tokens: dict[str, tuple[int, Caller]] = {}

    async def setup(self) -> None:
        await self.hsm.ensure_aes_key(SEAL_KEY_LABEL)

    def _domain_for(self, project_id: str, domain_id: str | None) -> str:
        known = self.store.project_domain(project_id)
        if known and domain_id and known != domain_id:
            raise ValueError(f"project {project_id} belongs to domain {known}")
        domain = known or domain_id or _hex_id()
        self.store.put_project(project_id, domain)
        return domain

    async def create_credentials(self, project_id: str, domain_id: str | None = None) -> dict[str, str]:
        domain = self._domain_for(project_id, domain_id)
        access_key = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
        secret_key = "".join(secrets.choice(_SK_ALPHABET) for _ in range(40))
        user_id = _hex_id()
        [(iv, body)] = await self.hsm.seal_many(SEAL_KEY_LABEL, [(secret_key.encode(), _seal_aad(access_key))])
        self.store.put_credential(CredentialRow(access_key, iv + body, project_id, domain, user_id), ms(time.time()))
        return {
            "access_key": access_key,
            "secret_key": secret_key,
            "project_id": project_id,
            "domain_id": domain,
            "user_id": user_id,
        }

    def create_token(
        self, project_id: str, ttl_seconds: int = 86400, domain_id: str | None = None, user_id: str | None = None
    ) -> dict[str, str | int]:
        if ttl_seconds <= 0:
            raise ValueError("ttl must be positive")
        domain = self._domain_for(project_id, domain_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = ms(self.clock.now() + ttl_seconds)
        self.store.put_token(_token_hash(token), TokenRow(project_id, domain, user_id or _hex_id(), expires))
        return {"token": token, "expires_at": expires, "project_id": project_id, "domain_id": domain}

    def caller_from_token(self, token: str | None) -> Caller:
        if not token:
            raise KmsError(Err.TOKEN_MISSING)
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise KmsError(Err.TOKEN_INVALID)
        digest = _token_hash(token)
        cached = self._tokens.get(digest)
        if cached is None:
            row = self.store.get_token(digest)
            if row is None:
                raise KmsError(Err.TOKEN_INVALID)
            cached = (row.expires_at, Caller(row.project_id, row.domain_id, row.user_id))
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[digest] = cached
        expires_at, caller = cached
        if ms(self.clock.now()) >= expires_at:
            raise KmsError(Err.TOKEN_EXPIRED)
        return caller

    async def secret_for(self, access_key: str) -> tuple[str, Caller]:
        """The unsealed secret of an access key (kept in memory for a few minutes only)."""
        now = time.monotonic()
        hit = self._secrets.get(access_key)
        if hit and hit[0] > now:
            return hit[1], hit[2]
        row = self.store.get_credential(access_key)
        if row is None:
            raise KmsError(Err.SIGNATURE_INVALID, "Unknown access key.")
        iv, body = row.sealed_secret[: ct.IV_BYTES], row.sealed_secret[ct.IV_BYTES :]
        [plain] = await self.hsm.open_many([(SEAL_KEY_LABEL, iv, body, _seal_aad(access_key))])
        if plain is None:
            raise KmsError(Err.INTERNAL, "A stored credential does not unseal.")
        caller = Caller(row.project_id, row.domain_id, row.user_id)
        self._secrets[access_key] = (now + _CACHE_SECONDS, plain.decode(), caller)
        return plain.decode(), caller


def _seal_aad(access_key: str) -> bytes:
    return b"kmsgw-credential:" + access_key.encode()
