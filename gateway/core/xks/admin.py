"""Keystores, credentials and key mappings as ``kmsgw xks`` manages them (the CLI opens the store
and token itself; running servers see each change through the store, gateway/core/xks/directory.py).

Every refusal a user can fix is a ValueError with the reason (the CLI prints it, exit 2). Creating
a keystore or a credential answers the proxy configuration file the AWS KMS console imports:
``{"XksProxyUriPath", "XksProxyAuthenticationCredential": {"AccessKeyId", "RawSecretAccessKey"}}``
— the only time the secret is shown; it is stored sealed by the token.
"""

from __future__ import annotations

from typing import Any

from gateway.core.clock import Clock, ms
from gateway.core.model import KeySpec, KeyUsage
from gateway.core.ports.hsm import HsmPort
from gateway.core.ports.store import MetadataStore, XksCredentialRow, XksKeyRow, XksKeystoreRow
from gateway.core.validate import KEY_ID_RE
from gateway.core.xks import names
from gateway.core.xks.directory import seal_secret

_CREDENTIAL_ATTEMPTS = 5  # a fresh access key id colliding with a stored one is drawn again


class XksAdmin:
    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock) -> None:
        self._store = store
        self._hsm = hsm
        self._clock = clock

    # -- keystores ------------------------------------------------------------------------
    async def create_keystore(self, prefix: str, project_id: str) -> dict[str, Any]:
        uri_prefix = names.normalize_prefix(prefix)
        if not project_id:
            raise ValueError("--project-id must not be empty")
        if not self._store.put_xks_keystore(XksKeystoreRow(uri_prefix, project_id, self._now())):
            raise ValueError(f"a keystore already has the URI prefix {uri_prefix or '(empty)'!r}")
        return await self._new_credential(uri_prefix)

    def list_keystores(self) -> dict[str, Any]:
        out = []
        for row in self._store.list_xks_keystores():
            out.append(
                {
                    "uri_prefix": row.uri_prefix,
                    "XksProxyUriPath": names.uri_path(row.uri_prefix),
                    "project_id": row.project_id,
                    "created_at": row.created_at,
                    "access_key_ids": [c.access_key_id for c in self._store.list_xks_credentials(row.uri_prefix)],
                    "keys": len(self._store.list_xks_keys(row.uri_prefix)),
                }
            )
        return {"keystores": out}

    def delete_keystore(self, prefix: str) -> dict[str, Any]:
        uri_prefix = self._existing(prefix).uri_prefix
        if not self._store.delete_xks_keystore(uri_prefix):
            raise ValueError(f"no keystore has the URI prefix {uri_prefix or '(empty)'!r}")
        return {"uri_prefix": uri_prefix, "deleted": True}

    # -- credentials ----------------------------------------------------------------------
    async def create_credential(self, prefix: str) -> dict[str, Any]:
        return await self._new_credential(self._existing(prefix).uri_prefix)

    def delete_credential(self, access_key_id: str) -> dict[str, Any]:
        row = self._store.get_xks_credential(access_key_id)
        if row is None or not self._store.delete_xks_credential(access_key_id):
            raise ValueError(f"no XKS credential has the access key id {access_key_id!r}")
        return {"access_key_id": access_key_id, "uri_prefix": row.uri_prefix, "deleted": True}

    # -- key mappings ---------------------------------------------------------------------
    def add_key(self, prefix: str, key_id: str, xks_key_id: str | None = None, usage: str = "") -> dict[str, Any]:
        keystore = self._existing(prefix)
        external_id = names.xks_key_id(xks_key_id if xks_key_id is not None else key_id)
        key_usage = names.parse_usage(usage or "ENCRYPT,DECRYPT")
        if not KEY_ID_RE.fullmatch(key_id):
            raise ValueError("--key-id must be a gateway key id (a lower-case UUID)")
        rec = self._store.get_key_by_id(key_id)
        if rec is None or rec.provisioning or rec.project_id != keystore.project_id:
            raise ValueError(f"no key {key_id} in the keystore's project {keystore.project_id}")
        if rec.key_spec != KeySpec.AES_256 or rec.key_usage != KeyUsage.ENCRYPT_DECRYPT:
            raise ValueError(
                f"key {key_id} is {rec.key_spec.value} / {rec.key_usage.value}: an external key store"
                " exports AES_256 / ENCRYPT_DECRYPT keys only"
            )
        row = XksKeyRow(keystore.uri_prefix, external_id, key_id, key_usage, self._now())
        if not self._store.put_xks_key(row):
            raise ValueError("the keystore or the key was deleted meanwhile")
        return _mapping_out(row)

    def remove_key(self, prefix: str, xks_key_id: str) -> dict[str, Any]:
        uri_prefix = self._existing(prefix).uri_prefix
        if not self._store.delete_xks_key(uri_prefix, xks_key_id):
            raise ValueError(f"no key has the XKS key id {xks_key_id!r} in this keystore")
        return {"uri_prefix": uri_prefix, "xks_key_id": xks_key_id, "removed": True}

    def list_keys(self, prefix: str) -> dict[str, Any]:
        uri_prefix = self._existing(prefix).uri_prefix
        return {"uri_prefix": uri_prefix, "keys": [_mapping_out(r) for r in self._store.list_xks_keys(uri_prefix)]}

    # -- helpers --------------------------------------------------------------------------
    def _existing(self, prefix: str) -> XksKeystoreRow:
        uri_prefix = names.normalize_prefix(prefix)
        row = self._store.get_xks_keystore(uri_prefix)
        if row is None:
            raise ValueError(f"no keystore has the URI prefix {uri_prefix or '(empty)'!r}")
        return row

    async def _new_credential(self, uri_prefix: str) -> dict[str, Any]:
        for _ in range(_CREDENTIAL_ATTEMPTS):
            access_key_id, secret = names.credential_from_random(
                await self._hsm.random(names.ACCESS_KEY_RANDOM_BYTES + names.SECRET_RANDOM_BYTES)
            )
            sealed = await seal_secret(self._hsm, access_key_id, secret)
            if self._store.put_xks_credential(XksCredentialRow(access_key_id, uri_prefix, sealed, self._now())):
                return {
                    "XksProxyUriPath": names.uri_path(uri_prefix),
                    "XksProxyAuthenticationCredential": {"AccessKeyId": access_key_id, "RawSecretAccessKey": secret},
                }
            if self._store.get_xks_keystore(uri_prefix) is None:
                raise ValueError("the keystore was deleted meanwhile")
        raise ValueError("could not draw an unused access key id")  # 120 random bits: not in practice

    def _now(self) -> int:
        return ms(self._clock.now())


def _mapping_out(row: XksKeyRow) -> dict[str, Any]:
    return {
        "uri_prefix": row.uri_prefix,
        "xks_key_id": row.xks_key_id,
        "key_id": row.key_id,
        "key_usage": list(row.key_usage),
    }
