"""Which key a request names, and whether its principal may act on it: key policy, grants, permission list.

The rule, for every operation on a key (docs/aws-kms.md, "Policy evaluation"): the key policy is
evaluated for the request's principal ARN, ``kms:`` action, key ARN and encryption context (the
key-policy engine, gateway/core/keypolicy). An explicit Deny refuses. An Allow for the principal
itself allows. An Allow through the account-root statement (``arn:aws:iam::<account>:root``, the
default policy's) delegates to the caller's own permission list (``kmsgw aws credentials create
--allow``; none given: every action), as AWS delegates to IAM. Otherwise a grant to the principal
that lists the operation (and whose constraints the encryption context meets) allows. Anything
else is AccessDeniedException with AWS's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core import keypolicy
from gateway.core.aws import names
from gateway.core.aws.directory import AwsDirectory, AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName, not_found
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller, KeyRecord, KeyState, KeyUsage
from gateway.core.ports.store import AwsKeyRow, MetadataStore

_POLICY_CACHE_MAX = 10_000
_STATE_ERRORS = {
    KeyState.DISABLED: (AwsName.DISABLED, "{arn} is disabled."),
    KeyState.PENDING_DELETION: (AwsName.INVALID_STATE, "{arn} is pending deletion."),
    KeyState.PENDING_IMPORT: (AwsName.INVALID_STATE, "{arn} is pending import."),
    KeyState.PENDING_ACTIVATION: (AwsName.INVALID_STATE, "{arn} is pending activation."),
}


@dataclass
class AwsKey:
    """A key as the AWS API sees it: the gateway's row and the AWS one (account, region, policy)."""

    rec: KeyRecord
    row: AwsKeyRow

    @property
    def key_id(self) -> str:
        return self.rec.key_id

    @property
    def arn(self) -> str:
        return names.key_arn(self.row.region, self.row.account_id, self.rec.key_id)

    def owner(self, who: AwsIdentity) -> Caller:
        """The gateway caller that runs an authorized operation in the core: the key's own project."""
        return Caller(self.rec.project_id, self.rec.domain_id, who.access_key_id, who.access_key_id, None)


class AwsAccess:
    def __init__(self, store: MetadataStore, keys: KeyAccess, directory: AwsDirectory) -> None:
        self._store = store
        self._keys = keys
        self._directory = directory
        self._policies: dict[str, keypolicy.Policy] = {}

    # -- which key ----------------------------------------------------------------------------
    def key(self, who: AwsIdentity, key_id: str, *, aliases: bool = True, cached: bool = True) -> AwsKey:
        """The key a KeyId names (id, ARN, alias, alias ARN) in its account and region; NotFoundException
        for a key of another region or account's namespace, as for one that does not exist."""
        ref = names.parse_key_ref(key_id, who.account_id, who.region, aliases=aliases)
        if ref.region != who.region:  # keys are regional: an ARN of another region names nothing here
            raise not_found(f"Invalid arn {key_id}: the region is not {who.region}.")
        if ref.alias_name:
            alias = (
                self._directory.alias(ref.account_id, ref.region, ref.alias_name)
                if cached
                else self._store.get_aws_alias(ref.account_id, ref.region, ref.alias_name)
            )
            if alias is None:
                arn = names.alias_arn(ref.region, ref.account_id, ref.alias_name)
                raise not_found(f"Alias {arn} is not found.")
            return self.by_id(alias.key_id, ref.account_id, ref.region, cached=cached)
        return self.by_id(ref.key_id, ref.account_id, ref.region, cached=cached)

    def by_id(self, key_id: str, account_id: str, region: str, *, cached: bool = True) -> AwsKey:
        row = self._directory.key_row(key_id) if cached else self._store.get_aws_key(key_id)
        rec = self._keys.row(key_id, cached=cached) if row is not None else None
        if row is None or rec is None or rec.provisioning or row.account_id != account_id or row.region != region:
            raise not_found(f"Key '{names.key_arn(region, account_id, key_id)}' does not exist")
        return AwsKey(rec, row)  # rec is already the key cache's copy (KeyAccess.row)

    # -- may this principal ---------------------------------------------------------------------
    def authorize(
        self,
        who: AwsIdentity,
        key: AwsKey,
        action: str,
        encryption_context: Mapping[str, str] | None = None,
        grant_operation: str = "",
    ) -> None:
        context = dict(encryption_context or {})
        request = keypolicy.PolicyRequest(who.principal_arn, who.account_id, action, key.arn, context)
        verdict = keypolicy.evaluate(self.policy(key.row.policy), request)
        if verdict.decision is keypolicy.Decision.EXPLICIT_DENY:
            raise self.denied(who, action, key.arn, keypolicy.Denial.EXPLICIT_DENY_IN_RESOURCE_POLICY)
        if verdict.allowed:
            if not verdict.identity_check_required or who.allows(action):
                return
            denial = keypolicy.Denial.NO_IDENTITY_POLICY_ALLOWS
        else:
            denial = keypolicy.Denial.NO_RESOURCE_POLICY_ALLOWS
        if grant_operation and self.granted(who, key, grant_operation, context):
            return
        raise self.denied(who, action, key.arn, denial)

    def granted(self, who: AwsIdentity, key: AwsKey, operation: str, context: Mapping[str, str]) -> bool:
        """A grant to this principal allows ``operation`` (its constraints met by ``context``)."""
        for grant in self._store.aws_grants_for(key.key_id, who.principal_arn):
            if keypolicy.grant_allows(grant.operations, grant_constraints(grant.constraints), operation, context):
                return True
        return False

    def allow_own(self, who: AwsIdentity, action: str) -> None:
        """An action on no key (CreateKey, ListKeys, ListAliases, GenerateRandom...): the permission list."""
        if not who.allows(action):
            raise self.denied(
                who, action, f"arn:aws:kms:{who.region}:{who.account_id}:*", keypolicy.Denial.NO_IDENTITY_POLICY_ALLOWS
            )

    @staticmethod
    def denied(who: AwsIdentity, action: str, resource: str, denial: keypolicy.Denial) -> AwsError:
        return AwsError(AwsName.ACCESS_DENIED, keypolicy.denied_message(who.principal_arn, action, resource, denial))

    def policy(self, text: str) -> keypolicy.Policy:
        hit = self._policies.get(text)
        if hit is None:
            hit = keypolicy.parse(text)
            if len(self._policies) >= _POLICY_CACHE_MAX:
                self._policies.clear()
            self._policies[text] = hit
        return hit


def grant_constraints(text: str) -> keypolicy.GrantConstraints | None:
    """A stored grant's constraints (the wire form, JSON), None for a grant without any."""
    return keypolicy.GrantConstraints.from_wire(json.loads(text)) if text else None


def require_enabled(key: AwsKey) -> None:
    """DisabledException or KMSInvalidStateException unless the key is enabled (every cryptographic call)."""
    state = key.rec.key_state
    if state != KeyState.ENABLED:
        name, message = _STATE_ERRORS.get(state, (AwsName.INVALID_STATE, "{arn} is not enabled."))
        raise AwsError(name, message.format(arn=key.arn))


def require_usage(key: AwsKey, usage: KeyUsage, *, symmetric: bool | None = None) -> None:
    symmetric_key = key.rec.key_type == 1
    if key.rec.key_usage != usage or (symmetric is not None and symmetric != symmetric_key):
        raise AwsError(
            AwsName.INVALID_KEY_USAGE, f"{key.arn} key usage is {key.rec.key_usage} which is not valid here."
        )
