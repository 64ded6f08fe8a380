"""Grants: let another principal use one key for a listed set of operations.

A grant names a grantee principal (a user id, or a domain id for every user of that domain)
and operations from ``GRANTABLE_OPERATIONS``. Enforcement lives in ``KeyAccess.owned`` (keyaccess.py):
the owner project passes, anyone else passes only for an operation a live grant lists. Nothing
is cached, so a revoked or retired grant stops working on the very next request.

Who may do what:
- create-grant: the owner project; or a grantee holding ``create-grant``, for operations it
  holds itself (a grantee cannot widen its own access).
- list-grants, revoke-grant: the owner project only.
- retire-grant: the grant's retiring principal, its grantee, or the owner project.
- list-retirable-grants: the grants whose retiring principal is the caller's user or domain id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from gateway.core import validate
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller, Grant, GrantPage, KeyState
from gateway.core.operations import GRANTABLE_OPERATIONS
from gateway.core.ports.store import MetadataStore
from gateway.core.settings import Settings

PRINCIPAL_RE = re.compile(r"^[a-zA-Z0-9]{1,64}$")
GRANT_NAME_RE = re.compile(r"^[a-zA-Z0-9:/_-]{1,255}$")
GRANT_ID_RE = re.compile(r"^[0-9a-fA-F]{64}$")
PRINCIPAL_TYPES = ("user", "domain")


class GrantOps:
    def __init__(self, store: MetadataStore, keys: KeyAccess, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._settings = settings

    def create_grant(
        self,
        caller: Caller,
        key_id: str,
        *,
        grantee_principal: str,
        operations: Sequence[str],
        name: str = "",
        retiring_principal: str = "",
        grantee_principal_type: str = "",
        sequence: str | None = None,
    ) -> Grant:
        validate.sequence(sequence)
        validate.key_id(key_id)
        principal_type = grantee_principal_type or "user"
        if principal_type not in PRINCIPAL_TYPES:
            raise KmsError(Err.GRANT_INVALID_PRINCIPAL, "grantee_principal_type must be user or domain.")
        if not isinstance(grantee_principal, str) or not PRINCIPAL_RE.fullmatch(grantee_principal):
            raise KmsError(Err.GRANT_INVALID_PRINCIPAL, "grantee_principal must match ^[a-zA-Z0-9]{1,64}$.")
        if retiring_principal and not PRINCIPAL_RE.fullmatch(retiring_principal):
            raise KmsError(Err.GRANT_INVALID_PRINCIPAL, "retiring_principal must match ^[a-zA-Z0-9]{1,64}$.")
        if name and not GRANT_NAME_RE.fullmatch(name):
            raise KmsError(Err.INVALID_PARAMETER, "name must match ^[a-zA-Z0-9:/_-]{1,255}$.")
        ops = _operations(operations)
        rec = self._keys.owned(caller, key_id, "create-grant")
        if rec.key_state == KeyState.PENDING_DELETION:
            raise KmsError(Err.KEY_PENDING_DELETION)
        if rec.project_id != caller.project_id:
            held = self._store.granted_operations(rec.key_id, caller.user_id, caller.domain_id) or set()
            if not set(ops) <= held:
                raise KmsError(Err.KEY_ACCESS_DENIED, "A grantee may only grant operations it holds itself.")
        grant = Grant(
            grant_id=secrets.token_hex(32),
            key_id=rec.key_id,
            project_id=rec.project_id,
            name=name,
            grantee_principal=grantee_principal,
            grantee_principal_type=principal_type,
            retiring_principal=retiring_principal,
            operations=ops,
            issuing_principal=caller.user_id,
            creation_date=ms(self._clock.now()),
        )
        if not self._store.insert_grant(grant, self._settings.grant_per_cmk_quota):
            raise KmsError(Err.GRANT_QUOTA_PER_KEY, f"The key already has {self._settings.grant_per_cmk_quota} grants.")
        return grant

    def list_grants(
        self,
        caller: Caller,
        key_id: str,
        *,
        limit: int | None = None,
        marker: str | None = None,
        sequence: str | None = None,
    ) -> GrantPage:
        validate.sequence(sequence)
        validate.key_id(key_id)
        offset, limit = self._page(limit, marker)
        rec = self._keys.owned(caller, key_id, "list-grants")
        grants, total = self._store.list_grants(rec.key_id, offset, limit)
        return _page(grants, total, offset)

    def list_retirable_grants(
        self, caller: Caller, *, limit: int | None = None, marker: str | None = None, sequence: str | None = None
    ) -> GrantPage:
        validate.sequence(sequence)
        offset, limit = self._page(limit, marker)
        grants, total = self._store.list_retirable_grants([caller.user_id, caller.domain_id], offset, limit)
        return _page(grants, total, offset)

    def revoke_grant(self, caller: Caller, key_id: str, grant_id: str, sequence: str | None = None) -> Grant:
        validate.sequence(sequence)
        validate.key_id(key_id)
        _grant_id(grant_id)
        rec = self._keys.owned(caller, key_id, "revoke-grant")
        grant = self._store.get_grant(grant_id.lower())
        if grant is None or grant.project_id != rec.project_id:
            raise KmsError(Err.GRANT_NOT_FOUND)
        if grant.key_id != rec.key_id:
            raise KmsError(Err.GRANT_KEY_MISMATCH)
        if not self._store.delete_grant(grant.grant_id):
            raise KmsError(Err.GRANT_NOT_FOUND)
        return grant

    def retire_grant(self, caller: Caller, key_id: str, grant_id: str, sequence: str | None = None) -> Grant:
        validate.sequence(sequence)
        validate.key_id(key_id)
        _grant_id(grant_id)
        grant = self._store.get_grant(grant_id.lower())
        if grant is None or not _may_retire(caller, grant):
            raise KmsError(Err.GRANT_NOT_FOUND)
        if grant.key_id != key_id:
            raise KmsError(Err.GRANT_KEY_MISMATCH)
        if not self._store.delete_grant(grant.grant_id):
            raise KmsError(Err.GRANT_NOT_FOUND)
        return grant

    def _page(self, limit: int | None, marker: str | None) -> tuple[int, int]:
        cap = self._settings.list_limit_max
        if limit is None or limit == 0:
            limit = cap
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= cap:
            raise KmsError(Err.INVALID_LIMIT, f"limit must be between 1 and {cap}.")
        offset = 0
        if marker not in (None, ""):
            if not str(marker).isdigit():
                raise KmsError(Err.INVALID_MARKER)
            offset = int(str(marker))
        return offset, limit


def _operations(operations: Sequence[str]) -> list[str]:
    if isinstance(operations, str) or not operations:
        raise KmsError(Err.INVALID_PARAMETER, "operations must be a non-empty list.")
    ops: list[str] = []
    for op in operations:
        if op not in GRANTABLE_OPERATIONS:
            raise KmsError(
                Err.INVALID_PARAMETER, f"operations may contain only: {', '.join(sorted(GRANTABLE_OPERATIONS))}."
            )
        if op not in ops:
            ops.append(op)
    if ops == ["create-grant"]:
        raise KmsError(Err.GRANT_ONLY_CREATE_GRANT)
    return ops


def _grant_id(grant_id: str) -> None:
    if not isinstance(grant_id, str) or not GRANT_ID_RE.fullmatch(grant_id):
        raise KmsError(Err.GRANT_NOT_FOUND, "grant_id must be 64 hexadecimal characters.")


def _may_retire(caller: Caller, grant: Grant) -> bool:
    if grant.project_id == caller.project_id:
        return True
    if grant.retiring_principal and grant.retiring_principal in (caller.user_id, caller.domain_id):
        return True
    if grant.grantee_principal_type == "user":
        return grant.grantee_principal == caller.user_id
    return grant.grantee_principal == caller.domain_id


def _page(grants: list[Grant], total: int, offset: int) -> GrantPage:
    truncated = offset + len(grants) < total
    return GrantPage(
        grants=grants, total=total, next_marker=str(offset + len(grants)) if truncated else "", truncated=truncated
    )
