"""Keystores, credentials and key mappings as the XKS hot path reads them: from the store, cached.

Every answer is reused only while ``store.generation`` has not moved (any committed write, here or
— with a shared store — on another worker or node within milliseconds) and for at most
:data:`RECHECK_SECONDS`, so a keystore, credential or mapping changed by ``kmsgw xks`` counts on a
running server within that bound, without a restart. A credential's secret is unsealed by the
token once and kept in memory for :data:`SECRET_SECONDS` at most, like a REST secret key
(gateway/core/auth.py), with its own AAD so the two kinds of sealed secret cannot be swapped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.core import ciphertext as ct
from gateway.core.auth import POLICY_RECHECK_SECONDS, SEAL_KEY_LABEL
from gateway.core.errors import Err, KmsError
from gateway.core.fresh_cache import FreshCache
from gateway.core.ports.hsm import HsmPort, OpenItem, SealItem
from gateway.core.ports.store import MetadataStore, XksCredentialRow, XksKeyRow, XksKeystoreRow

RECHECK_SECONDS = POLICY_RECHECK_SECONDS  # 5 s: the bound for a change another process missed telling us
SECRET_SECONDS = 300.0  # an unsealed secret stays in memory this long at most
_MAX_CACHED = 10_000


@dataclass
class _Secret:
    secret: str
    row: XksCredentialRow
    generation: int
    recheck: float  # monotonic: the row is re-read then at the latest
    expires: float  # monotonic: the unsealed secret is forgotten then


def seal_aad(access_key_id: str) -> bytes:
    return b"kmsgw-xks-credential:" + access_key_id.encode()


async def seal_secret(hsm: HsmPort, access_key_id: str, secret: str) -> bytes:
    """The stored form of a secret access key: IV || ciphertext || tag under the gateway's seal key."""
    [(iv, body)] = await hsm.seal_many(SEAL_KEY_LABEL, [SealItem(secret.encode(), seal_aad(access_key_id))])
    return iv + body


class XksDirectory:
    def __init__(self, store: MetadataStore, hsm: HsmPort) -> None:
        self._store = store
        self._hsm = hsm
        self._keystores: FreshCache[str, XksKeystoreRow | None] = FreshCache(store, RECHECK_SECONDS)
        self._mappings: FreshCache[tuple[str, str], XksKeyRow | None] = FreshCache(store, RECHECK_SECONDS)
        self._domains: FreshCache[str, str] = FreshCache(store, RECHECK_SECONDS)
        self._secrets: dict[str, _Secret] = {}

    def keystore(self, uri_prefix: str) -> XksKeystoreRow | None:
        return self._keystores.get(uri_prefix, lambda: self._store.get_xks_keystore(uri_prefix))

    def mapping(self, uri_prefix: str, xks_key_id: str) -> XksKeyRow | None:
        key = (uri_prefix, xks_key_id)
        return self._mappings.get(key, lambda: self._store.get_xks_key(uri_prefix, xks_key_id))

    def domain_of(self, project_id: str) -> str:
        return self._domains.get(project_id, lambda: self._store.project_domain(project_id) or "")

    async def credential(self, access_key_id: str) -> tuple[str, XksCredentialRow] | None:
        """The unsealed secret of an access key id and its row; None when no such credential exists."""
        now = time.monotonic()
        generation = self._store.generation
        hit = self._secrets.get(access_key_id)
        if hit is not None and hit.expires > now and hit.generation == generation and hit.recheck > now:
            return hit.secret, hit.row
        row = self._store.get_xks_credential(access_key_id)
        if row is None:  # deleted (or never was): forget the secret too
            self._secrets.pop(access_key_id, None)
            return None
        if hit is not None and hit.expires > now and hit.row == row:
            secret, expires = hit.secret, hit.expires
        else:
            secret, expires = await self._unseal(row), now + SECRET_SECONDS
        if hit is None and len(self._secrets) >= _MAX_CACHED:
            self._secrets.clear()
        self._secrets[access_key_id] = _Secret(secret, row, generation, now + RECHECK_SECONDS, expires)
        return secret, row

    async def _unseal(self, row: XksCredentialRow) -> str:
        iv, body = row.sealed_secret[: ct.IV_BYTES], row.sealed_secret[ct.IV_BYTES :]
        [plain] = await self._hsm.open_many([OpenItem(SEAL_KEY_LABEL, iv, body, seal_aad(row.access_key_id))])
        if plain is None:
            raise KmsError(Err.INTERNAL, "A stored XKS credential does not unseal.")
        return plain.decode()
