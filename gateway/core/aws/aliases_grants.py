"""Aliases (per account and region, as AWS has them) and grants (to principal ARNs, with their operations
and encryption-context constraints) through the AWS API.

A grant allows its grantee the operations it lists on its key, within its constraints, from the
moment CreateGrant answers (grant tokens are accepted and not needed); RevokeGrant and RetireGrant
end it on the very next request (grants are never cached). Key policies and grants are evaluated
together in gateway/core/aws/access.py.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from gateway.core import keypolicy
from gateway.core.aws import names
from gateway.core.aws.access import AwsAccess, AwsKey
from gateway.core.aws.directory import AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName, not_found, validation
from gateway.core.aws.keys import next_marker, page
from gateway.core.clock import Clock, ms
from gateway.core.model import KeyState
from gateway.core.ports.store import AwsAliasRow, AwsGrantRow, MetadataStore

CONSTRAINABLE = frozenset(
    {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo"}
)
GRANT_OPERATIONS = CONSTRAINABLE | {"CreateGrant", "RetireGrant", "DescribeKey", "Sign", "Verify", "GetPublicKey"}
MAX_GRANTS_PER_KEY = 50_000


class AwsAliases:
    def __init__(self, store: MetadataStore, access: AwsAccess, clock: Clock) -> None:
        self._store = store
        self._access = access
        self._clock = clock

    def create_alias(self, who: AwsIdentity, alias_name: str, target_key_id: str) -> None:
        names.check_alias_name(alias_name, creating=True)
        key = self._target(who, target_key_id, "kms:CreateAlias")
        now = ms(self._clock.now())
        row = AwsAliasRow(who.account_id, who.region, alias_name, key.key_id, now, now)
        if not self._store.put_aws_alias(row):
            arn = names.alias_arn(who.region, who.account_id, alias_name)
            raise AwsError(AwsName.ALREADY_EXISTS, f"An alias with the name {arn} already exists")

    def update_alias(self, who: AwsIdentity, alias_name: str, target_key_id: str) -> None:
        names.check_alias_name(alias_name, creating=True)
        current = self._existing(who, alias_name)
        old = self._access.by_id(current.key_id, who.account_id, who.region, cached=False)
        self._access.authorize(who, old, "kms:UpdateAlias")
        key = self._target(who, target_key_id, "kms:UpdateAlias")
        if (key.rec.key_usage, key.rec.key_type) != (old.rec.key_usage, old.rec.key_type):
            raise validation("The new target key must have the same key type and key usage as the current one.")
        self._store.retarget_aws_alias(who.account_id, who.region, alias_name, key.key_id, ms(self._clock.now()))

    def delete_alias(self, who: AwsIdentity, alias_name: str) -> None:
        current = self._existing(who, alias_name)
        key = self._access.by_id(current.key_id, who.account_id, who.region, cached=False)
        self._access.authorize(who, key, "kms:DeleteAlias")
        self._store.delete_aws_alias(who.account_id, who.region, alias_name)

    def list_aliases(
        self, who: AwsIdentity, key_id: str | None, limit: int | None, marker: str | None
    ) -> tuple[list[AwsAliasRow], str]:
        target = None
        if key_id is not None:
            key = self._access.key(who, key_id, aliases=False, cached=False)
            self._access.authorize(who, key, "kms:ListAliases")
            target = key.key_id
        else:
            self._access.allow_own(who, "kms:ListAliases")
        offset, limit = page(limit, marker, 100, 50)
        rows, total = self._store.list_aws_aliases(who.account_id, who.region, target, offset, limit)
        return rows, next_marker(offset, len(rows), total)

    def _existing(self, who: AwsIdentity, alias_name: str) -> AwsAliasRow:
        names.check_alias_name(alias_name)
        row = self._store.get_aws_alias(who.account_id, who.region, alias_name)
        if row is None:
            raise not_found(f"Alias {names.alias_arn(who.region, who.account_id, alias_name)} is not found.")
        return row

    def _target(self, who: AwsIdentity, target_key_id: str, action: str) -> AwsKey:
        key = self._access.key(who, target_key_id, aliases=False, cached=False)
        if (key.row.account_id, key.row.region) != (who.account_id, who.region):
            raise not_found(f"Key '{key.arn}' does not exist")
        self._access.authorize(who, key, action)
        if key.rec.key_state == KeyState.PENDING_DELETION:
            raise AwsError(AwsName.INVALID_STATE, f"{key.arn} is pending deletion.")
        return key


class AwsGrants:
    def __init__(self, store: MetadataStore, access: AwsAccess, clock: Clock) -> None:
        self._store = store
        self._access = access
        self._clock = clock

    def create_grant(
        self,
        who: AwsIdentity,
        key_id: str,
        grantee: str,
        operations: list[str],
        retiring: str | None,
        constraints: Mapping[str, Mapping[str, str]] | None,
        name: str | None,
    ) -> AwsGrantRow:
        key = self._access.key(who, key_id, aliases=False, cached=False)
        self._access.authorize(who, key, "kms:CreateGrant", grant_operation="CreateGrant")
        if key.rec.key_state == KeyState.PENDING_DELETION:
            raise AwsError(AwsName.INVALID_STATE, f"{key.arn} is pending deletion.")
        unknown = sorted(set(operations) - GRANT_OPERATIONS)
        if not operations or unknown:
            raise validation(f"Operations must be among {', '.join(sorted(GRANT_OPERATIONS))}.")
        constraint_text = ""
        if constraints:
            if set(operations) - CONSTRAINABLE:
                raise validation("Grant constraints apply to cryptographic operations only.")
            try:
                wire = keypolicy.GrantConstraints.from_wire(dict(constraints)).to_wire()
            except ValueError as exc:
                raise validation(str(exc)) from None
            constraint_text = json.dumps(wire, sort_keys=True)
        row = AwsGrantRow(
            grant_id=secrets.token_hex(32),
            key_id=key.key_id,
            name=name or "",
            grantee_principal=grantee,
            retiring_principal=retiring or "",
            issuing_account=names.root_arn(key.row.account_id),
            operations=tuple(dict.fromkeys(operations)),
            constraints=constraint_text,
            grant_token=secrets.token_urlsafe(48),
            created_at=ms(self._clock.now()),
        )
        if not self._store.put_aws_grant(row, MAX_GRANTS_PER_KEY):
            raise AwsError(AwsName.LIMIT_EXCEEDED, f"A key holds at most {MAX_GRANTS_PER_KEY} grants.")
        return row

    def list_grants(
        self,
        who: AwsIdentity,
        key_id: str,
        limit: int | None,
        marker: str | None,
        grant_id: str | None,
        grantee: str | None,
    ) -> tuple[AwsKey, list[AwsGrantRow], str]:
        key = self._access.key(who, key_id, aliases=False, cached=False)
        self._access.authorize(who, key, "kms:ListGrants")
        offset, limit = page(limit, marker, 100, 50)
        if grant_id is None and grantee is None:
            rows, total = self._store.list_aws_grants(key.key_id, offset, limit)
            return key, rows, next_marker(offset, len(rows), total)
        every, _ = self._store.list_aws_grants(key.key_id, 0, MAX_GRANTS_PER_KEY)
        chosen = [g for g in every if grant_id in (None, g.grant_id) and grantee in (None, g.grantee_principal)]
        window = chosen[offset : offset + limit]
        return key, window, next_marker(offset, len(window), len(chosen))

    def list_retirable_grants(
        self, who: AwsIdentity, retiring: str, limit: int | None, marker: str | None
    ) -> tuple[list[AwsGrantRow], str]:
        self._access.allow_own(who, "kms:ListRetirableGrants")
        offset, limit = page(limit, marker, 100, 50)
        rows, total = self._store.list_aws_retirable_grants(retiring, offset, limit)
        return rows, next_marker(offset, len(rows), total)

    def revoke_grant(self, who: AwsIdentity, key_id: str, grant_id: str) -> None:
        key = self._access.key(who, key_id, aliases=False, cached=False)
        self._access.authorize(who, key, "kms:RevokeGrant")
        grant = self._store.get_aws_grant(grant_id)
        if grant is None or grant.key_id != key.key_id or not self._store.delete_aws_grant(grant_id):
            raise AwsError(AwsName.NOT_FOUND, "Grant ID not found")

    def retire_grant(self, who: AwsIdentity, grant_token: str | None, key_id: str | None, grant_id: str | None) -> None:
        """The retiring principal, the grantee (when the grant lists RetireGrant) or whoever the key's
        policy allows kms:RetireGrant may retire a grant."""
        if grant_token:
            grant = self._store.get_aws_grant_by_token(grant_token)
            if grant is None:
                raise AwsError(AwsName.INVALID_GRANT_TOKEN, "The grant token is not valid.")
        elif key_id and grant_id:
            key = self._access.key(who, key_id, aliases=False, cached=False)
            grant = self._store.get_aws_grant(grant_id)
            if grant is None or grant.key_id != key.key_id:
                raise AwsError(AwsName.NOT_FOUND, "Grant ID not found")
        else:
            raise validation("Give GrantToken, or KeyId and GrantId.")
        principal = who.principal_arn
        if principal != grant.retiring_principal and not (
            principal == grant.grantee_principal and "RetireGrant" in grant.operations
        ):
            row = self._store.get_aws_key(grant.key_id)
            if row is None:
                raise AwsError(AwsName.NOT_FOUND, "Grant ID not found")
            key = self._access.by_id(grant.key_id, row.account_id, row.region, cached=False)
            self._access.authorize(who, key, "kms:RetireGrant")
        self._store.delete_aws_grant(grant.grant_id)
