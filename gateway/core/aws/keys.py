"""Key lifecycle through the AWS API: create, describe, list, enable/disable, deletion, description,
tags, key policies and rotation — AWS's rules on top of the core's operations (gateway/core/keys.py,
rotation.py), which keep doing the work and the crash safety.

Where AWS is idempotent and the core is not (EnableKey on an enabled key, DisableKeyRotation when it
is off), the AWS side answers success without calling the core.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gateway.core import keypolicy
from gateway.core.aws.access import AwsAccess, AwsKey, require_enabled
from gateway.core.aws.directory import AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName, validation
from gateway.core.clock import Clock, ms
from gateway.core.keyspecs import rotatable
from gateway.core.model import KeySpec, KeyState, KeyUsage, Origin
from gateway.core.ports.store import AwsKeyRow, AwsRotationRow, MetadataStore
from gateway.core.rotation import DAY_MS
from gateway.core.service import Kms

# AWS KeySpec -> the gateway's; what the token cannot make is refused by the core (UnsupportedOperation).
AWS_KEY_SPECS: dict[str, KeySpec] = {
    "SYMMETRIC_DEFAULT": KeySpec.AES_256,
    "RSA_2048": KeySpec.RSA_2048,
    "RSA_3072": KeySpec.RSA_3072,
    "RSA_4096": KeySpec.RSA_4096,
    "ECC_NIST_P256": KeySpec.EC_P256,
    "ECC_NIST_P384": KeySpec.EC_P384,
    "SM2": KeySpec.SM2,
}
GATEWAY_TO_AWS_SPEC = {spec: name for name, spec in AWS_KEY_SPECS.items()}
ORIGINS = {"AWS_KMS": Origin.KMS, "EXTERNAL": Origin.EXTERNAL}
DELETION_WINDOW_DAYS = (7, 30)
DEFAULT_DELETION_WINDOW = 30
ROTATION_PERIOD_DAYS = (90, 365)  # AWS allows up to 2560; the gateway's rotation interval stops at 365
DEFAULT_ROTATION_PERIOD = 365
MAX_TAGS = 50


@dataclass
class Rotation:
    enabled: bool
    period_days: int
    next_rotation_ms: int | None


class AwsKeys:
    def __init__(self, kms: Kms, store: MetadataStore, access: AwsAccess, clock: Clock) -> None:
        self._kms = kms
        self._store = store
        self._access = access
        self._clock = clock

    # -- create, describe, list -----------------------------------------------------------------
    async def create_key(
        self,
        who: AwsIdentity,
        *,
        policy: str | None,
        description: str,
        key_usage: str | None,
        key_spec: str | None,
        origin: str | None,
        bypass_lockout: bool,
        tags: dict[str, str],
        multi_region: bool,
    ) -> AwsKey:
        self._access.allow_own(who, "kms:CreateKey")
        if multi_region:
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, "Multi-Region keys are not supported by this gateway.")
        key_origin = ORIGINS.get(origin or "AWS_KMS")
        if key_origin is None:
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, f"Origin {origin} is not supported by this gateway.")
        spec = AWS_KEY_SPECS.get(key_spec or "SYMMETRIC_DEFAULT")
        if spec is None:
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, f"KeySpec {key_spec} is not supported by this gateway.")
        usage = key_usage or "ENCRYPT_DECRYPT"
        if usage not in (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY):
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, f"KeyUsage {usage} is not supported by this gateway.")
        text = policy if policy is not None else keypolicy.default_policy(who.account_id)
        if policy is not None:
            self.check_policy(who, text, bypass_lockout)
        check_tags(tags)
        alias = f"aws-{who.region}-{secrets.token_hex(8)}"  # the gateway alias: AWS aliases live in aws_aliases
        rec = await self._kms.create_key(
            who.caller,
            key_alias=alias,
            key_description=description,
            key_spec=spec,
            key_usage=usage,
            origin=key_origin,
        )
        row = AwsKeyRow(rec.key_id, who.account_id, who.region, text, rec.creation_date)
        self._store.put_aws_key(row)
        if tags:
            self._store.change_tags(rec.key_id, rec.project_id, tags, {}, MAX_TAGS)
        return AwsKey(rec, row)

    def describe_key(self, who: AwsIdentity, key_id: str) -> AwsKey:
        key = self._access.key(who, key_id, cached=False)
        self._access.authorize(who, key, "kms:DescribeKey", grant_operation="DescribeKey")
        return key

    def list_keys(self, who: AwsIdentity, limit: int | None, marker: str | None) -> tuple[list[AwsKeyRow], str]:
        self._access.allow_own(who, "kms:ListKeys")
        offset, limit = page(limit, marker, 1000, 100)
        rows, total = self._store.list_aws_keys(who.account_id, who.region, offset, limit)
        return rows, next_marker(offset, len(rows), total)

    # -- state -----------------------------------------------------------------------------------
    def enable_key(self, who: AwsIdentity, key_id: str) -> None:
        key = self._key(who, key_id, "kms:EnableKey")
        if key.rec.key_state != KeyState.ENABLED:
            self._kms.enable_key(key.owner(who), key.key_id)

    def disable_key(self, who: AwsIdentity, key_id: str) -> None:
        key = self._key(who, key_id, "kms:DisableKey")
        if key.rec.key_state != KeyState.DISABLED:
            self._kms.disable_key(key.owner(who), key.key_id)

    def schedule_key_deletion(self, who: AwsIdentity, key_id: str, window_days: int | None) -> AwsKey:
        days = DEFAULT_DELETION_WINDOW if window_days is None else window_days
        if not DELETION_WINDOW_DAYS[0] <= days <= DELETION_WINDOW_DAYS[1]:
            raise validation(f"PendingWindowInDays must be between {DELETION_WINDOW_DAYS[0]} and 30.")
        key = self._key(who, key_id, "kms:ScheduleKeyDeletion")
        key.rec = self._kms.schedule_key_deletion(key.owner(who), key.key_id, days)
        return key

    def cancel_key_deletion(self, who: AwsIdentity, key_id: str) -> AwsKey:
        key = self._key(who, key_id, "kms:CancelKeyDeletion")
        key.rec = self._kms.cancel_key_deletion(key.owner(who), key.key_id)
        return key

    def update_key_description(self, who: AwsIdentity, key_id: str, description: str) -> None:
        key = self._key(who, key_id, "kms:UpdateKeyDescription")
        self._kms.update_key_description(key.owner(who), key.key_id, description)

    # -- tags ------------------------------------------------------------------------------------
    def tag_resource(self, who: AwsIdentity, key_id: str, tags: dict[str, str]) -> None:
        key = self._key(who, key_id, "kms:TagResource")
        _not_pending_deletion(key)
        check_tags(tags)
        if not self._store.change_tags(key.key_id, key.rec.project_id, tags, {}, MAX_TAGS):
            raise AwsError(AwsName.LIMIT_EXCEEDED, f"A key holds at most {MAX_TAGS} tags.")

    def untag_resource(self, who: AwsIdentity, key_id: str, tag_keys: list[str]) -> None:
        key = self._key(who, key_id, "kms:UntagResource")
        _not_pending_deletion(key)
        self._store.change_tags(key.key_id, key.rec.project_id, {}, dict.fromkeys(tag_keys), MAX_TAGS)

    def list_resource_tags(
        self, who: AwsIdentity, key_id: str, limit: int | None, marker: str | None
    ) -> tuple[list[tuple[str, str]], str]:
        key = self._key(who, key_id, "kms:ListResourceTags")
        offset, limit = page(limit, marker, 50, 50)
        tags = sorted(self._store.key_tags(key.key_id).items())
        return tags[offset : offset + limit], next_marker(offset, len(tags[offset : offset + limit]), len(tags))

    # -- key policies ------------------------------------------------------------------------------
    def get_key_policy(self, who: AwsIdentity, key_id: str, policy_name: str | None) -> str:
        key = self._key(who, key_id, "kms:GetKeyPolicy")
        _policy_name(policy_name)
        return key.row.policy

    def put_key_policy(
        self, who: AwsIdentity, key_id: str, policy_name: str | None, policy: str, bypass_lockout: bool
    ) -> None:
        key = self._key(who, key_id, "kms:PutKeyPolicy")
        _policy_name(policy_name)
        _not_pending_deletion(key)
        self.check_policy(who, policy, bypass_lockout)
        self._store.set_aws_key_policy(key.key_id, policy)

    def list_key_policies(self, who: AwsIdentity, key_id: str) -> list[str]:
        self._key(who, key_id, "kms:ListKeyPolicies")
        return ["default"]

    def check_policy(self, who: AwsIdentity, text: str, bypass_lockout: bool) -> None:
        """MalformedPolicyDocumentException for a document the engine refuses, or one that would lock
        the caller out of PutKeyPolicy (unless BypassPolicyLockoutSafetyCheck)."""
        try:
            parsed = keypolicy.parse(text)
            if not bypass_lockout:
                keypolicy.check_lockout(parsed, who.principal_arn, who.account_id)
        except keypolicy.PolicyTooLarge as exc:
            raise AwsError(AwsName.LIMIT_EXCEEDED, str(exc)) from None
        except keypolicy.MalformedPolicy as exc:
            raise AwsError(AwsName.MALFORMED_POLICY, str(exc) or "The policy is malformed.") from None

    # -- rotation --------------------------------------------------------------------------------
    def enable_key_rotation(self, who: AwsIdentity, key_id: str, period_days: int | None) -> None:
        key = self._rotatable(who, key_id, "kms:EnableKeyRotation")
        days = DEFAULT_ROTATION_PERIOD if period_days is None else period_days
        if not ROTATION_PERIOD_DAYS[0] <= days <= ROTATION_PERIOD_DAYS[1]:
            raise validation("RotationPeriodInDays must be between 90 and 365 on this gateway.")
        owner = key.owner(who)
        row = self._store.get_rotation(key.key_id)
        if row is None or not row.enabled:
            self._kms.enable_key_rotation(owner, key.key_id)
        self._kms.update_key_rotation_interval(owner, key.key_id, days)

    def disable_key_rotation(self, who: AwsIdentity, key_id: str) -> None:
        key = self._rotatable(who, key_id, "kms:DisableKeyRotation")
        row = self._store.get_rotation(key.key_id)
        if row is not None and row.enabled:
            self._kms.disable_key_rotation(key.owner(who), key.key_id)

    def get_key_rotation_status(self, who: AwsIdentity, key_id: str) -> tuple[AwsKey, Rotation]:
        key = self._key(who, key_id, "kms:GetKeyRotationStatus")
        _not_pending_deletion(key)
        row = self._store.get_rotation(key.key_id)
        if row is None or not row.enabled:
            return key, Rotation(False, row.interval_days if row else DEFAULT_ROTATION_PERIOD, None)
        return key, Rotation(True, row.interval_days, row.base_at + row.interval_days * DAY_MS)

    async def rotate_key_on_demand(self, who: AwsIdentity, key_id: str) -> AwsKey:
        key = self._rotatable(who, key_id, "kms:RotateKeyOnDemand")
        status = await self._kms.rotate_on_demand(key.owner(who), key.key_id)
        self._store.note_aws_rotation(key.key_id, status.current_version, "ON_DEMAND")
        return key

    def list_key_rotations(
        self, who: AwsIdentity, key_id: str, limit: int | None, marker: str | None
    ) -> tuple[AwsKey, list[AwsRotationRow], str]:
        key = self._key(who, key_id, "kms:ListKeyRotations")
        offset, limit = page(limit, marker, 1000, 100)
        rows, total = self._store.aws_key_rotations(key.key_id, offset, limit)
        return key, rows, next_marker(offset, len(rows), total)

    # -- helpers ---------------------------------------------------------------------------------
    def _key(self, who: AwsIdentity, key_id: str, action: str) -> AwsKey:
        key = self._access.key(who, key_id, cached=False)
        self._access.authorize(who, key, action)
        return key

    def _rotatable(self, who: AwsIdentity, key_id: str, action: str) -> AwsKey:
        key = self._key(who, key_id, action)
        if not rotatable(key.rec):
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, f"{key.arn} cannot be rotated: only symmetric AWS_KMS keys.")
        require_enabled(key)
        return key

    def now_ms(self) -> int:
        return ms(self._clock.now())


def check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise AwsError(AwsName.TAG, f"A key holds at most {MAX_TAGS} tags.")
    for tag_key in tags:
        if tag_key.startswith("aws:"):
            raise AwsError(AwsName.TAG, "Tag keys beginning with aws: are reserved.")


def _policy_name(name: str | None) -> None:
    if name not in (None, "default"):
        raise AwsError(AwsName.NOT_FOUND, "The only key policy name is default.")


def _not_pending_deletion(key: AwsKey) -> None:
    if key.rec.key_state == KeyState.PENDING_DELETION:
        raise AwsError(AwsName.INVALID_STATE, f"{key.arn} is pending deletion.")


def page(limit: int | None, marker: str | None, cap: int, default: int) -> tuple[int, int]:
    """(offset, limit) from a Limit and a Marker this gateway issued (an offset)."""
    if limit is not None and not 1 <= limit <= cap:
        raise validation(f"Limit must be between 1 and {cap}.")
    offset = 0
    if marker:
        if not (marker.isascii() and marker.isdigit() and len(marker) <= 18):
            raise AwsError(AwsName.INVALID_MARKER, "The marker is not one this service issued.")
        offset = int(marker)
    return offset, limit or default


def next_marker(offset: int, count: int, total: int) -> str:
    """The next page's Marker, "" when this page is the last (Truncated false)."""
    return str(offset + count) if offset + count < total else ""
