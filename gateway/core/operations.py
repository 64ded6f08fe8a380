"""The operation catalog: every KMS operation, defined once, whatever transport serves it.

An operation's ``name`` is the same on every transport: it is the audit line's ``op``, the key of
its rate-limit buckets and ``[limits.operations]`` entries, and the ``op`` label of the request
metrics. Transports name operations only through these entries (a REST route, a gRPC method and
later other front ends point at one), so one operation can never be counted, limited or audited
under two names.

Per operation:

* ``action`` — the permission action a caller's policy must hold (``Caller.actions``): the name the
  provider's KMS API reference gives it where it has one (docs/api.md); grants, rotation and
  asymmetric operations use the names the provider's IAM documents for them. A batch operation
  takes the action of its single counterpart, so a policy that allows one allows the other.
* ``grant_name`` — the name a grant's ``operations`` list uses for it (``"create-datakey"``), or
  ``""`` when no grant can allow it: only the key's own project may call it. A batch operation is
  allowed by a grant on its single counterpart.
* ``former_names`` — names an older release used for it on some transport (the gRPC tag methods).
  ``[limits.operations]`` still accepts them; nothing else does.
* ``transport`` — the one transport an operation exists on (the XKS proxy API's four, the AWS KMS
  API's operations, whose actions are AWS's ``kms:Encrypt``...), or ``""``
  for the KMS API, which REST and gRPC both serve (``KMS_API``).

Names are the REST API's operation names where transports once disagreed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True, eq=False)
class Operation:
    """One KMS operation (compared by identity: there is one entry per name)."""

    name: str
    action: str
    grant_name: str = ""
    former_names: tuple[str, ...] = ()
    transport: str = ""  # the one transport that serves it (e.g. "xks"); "": the KMS API on REST and gRPC

    @property
    def grantable(self) -> bool:
        """True when a grant on another project's key may allow a caller to run it."""
        return bool(self.grant_name)


# -- keys -----------------------------------------------------------------------------------------
CREATE_KEY = Operation("create_key", "kms:cmk:create")
DESCRIBE_KEY = Operation("describe_key", "kms:cmk:get", grant_name="describe-key")
LIST_KEYS = Operation("list_keys", "kms:cmk:list")
ENABLE_KEY = Operation("enable_key", "kms:cmk:enable")
DISABLE_KEY = Operation("disable_key", "kms:cmk:disable")
SCHEDULE_KEY_DELETION = Operation("schedule_key_deletion", "kms:cmk:update")
CANCEL_KEY_DELETION = Operation("cancel_key_deletion", "kms:cmk:update")
UPDATE_KEY_ALIAS = Operation("update_key_alias", "kms:cmk:update")
UPDATE_KEY_DESCRIPTION = Operation("update_key_description", "kms:cmk:update")
# -- random, counts and quotas --------------------------------------------------------------------
GEN_RANDOM = Operation("gen_random", "kms:cmk:generate")
USER_INSTANCES = Operation("user_instances", "kms:cmk:getInstance")
USER_QUOTAS = Operation("user_quotas", "kms:cmk:getQuota")
# -- data keys ------------------------------------------------------------------------------------
CREATE_DATAKEY = Operation("create_datakey", "kms:dek:create", grant_name="create-datakey")
CREATE_DATAKEY_WITHOUT_PLAINTEXT = Operation(
    "create_datakey_without_plaintext", "kms:dek:create", grant_name="create-datakey-without-plaintext"
)
ENCRYPT_DATAKEY = Operation("encrypt_datakey", "kms:dek:crypto", grant_name="encrypt-datakey")
DECRYPT_DATAKEY = Operation("decrypt_datakey", "kms:dek:crypto", grant_name="decrypt-datakey")
BATCH_CREATE_DATAKEY = Operation("batch_create_datakey", "kms:dek:create", grant_name="create-datakey")
BATCH_ENCRYPT_DATAKEY = Operation("batch_encrypt_datakey", "kms:dek:crypto", grant_name="encrypt-datakey")
BATCH_DECRYPT_DATAKEY = Operation("batch_decrypt_datakey", "kms:dek:crypto", grant_name="decrypt-datakey")
# -- data -----------------------------------------------------------------------------------------
ENCRYPT_DATA = Operation("encrypt_data", "kms:cmk:crypto", grant_name="encrypt-data")
DECRYPT_DATA = Operation("decrypt_data", "kms:cmk:crypto", grant_name="decrypt-data")
# -- rotation -------------------------------------------------------------------------------------
ENABLE_KEY_ROTATION = Operation("enable_key_rotation", "kms:cmk:enableRotation")
DISABLE_KEY_ROTATION = Operation("disable_key_rotation", "kms:cmk:disableRotation")
UPDATE_KEY_ROTATION_INTERVAL = Operation("update_key_rotation_interval", "kms:cmk:updateRotation")
GET_KEY_ROTATION_STATUS = Operation("get_key_rotation_status", "kms:cmk:getRotation")
ROTATE_ON_DEMAND = Operation("rotate_on_demand", "kms:cmk:rotate")
# -- grants ---------------------------------------------------------------------------------------
CREATE_GRANT = Operation("create_grant", "kms:grant:create", grant_name="create-grant")
LIST_GRANTS = Operation("list_grants", "kms:grant:list")
LIST_RETIRABLE_GRANTS = Operation("list_retirable_grants", "kms:grant:listRetirable")
REVOKE_GRANT = Operation("revoke_grant", "kms:grant:revoke")
RETIRE_GRANT = Operation("retire_grant", "kms:grant:retire", grant_name="retire-grant")
# -- tags -----------------------------------------------------------------------------------------
CREATE_KMS_TAG = Operation("create_kms_tag", "kms:cmkTag:create", former_names=("create_key_tag",))
BATCH_CREATE_KMS_TAGS = Operation("batch_create_kms_tags", "kms:cmkTag:batch", former_names=("batch_key_tags",))
DELETE_TAG = Operation("delete_tag", "kms:cmkTag:delete", former_names=("delete_key_tag",))
SHOW_KMS_TAGS = Operation("show_kms_tags", "kms:cmkTag:list", former_names=("list_key_tags",))
LIST_KMS_TAGS = Operation("list_kms_tags", "kms:cmkTag:list", former_names=("list_project_tags",))
LIST_KMS_BY_TAGS = Operation("list_kms_by_tags", "kms:cmkTag:listInstance", former_names=("list_resource_instances",))
# -- asymmetric keys ------------------------------------------------------------------------------
SIGN = Operation("sign", "kms:cmk:sign")
VERIFY = Operation("verify", "kms:cmk:verify")
GET_PUBLICKEY = Operation("get_publickey", "kms:cmk:getPublicKey")
# -- key import (bring your own key) --------------------------------------------------------------
GET_PARAMETERS_FOR_IMPORT = Operation("get_parameters_for_import", "kms:cmk:getMaterial")
IMPORT_KEY_MATERIAL = Operation("import_key_material", "kms:cmk:importMaterial")
DELETE_IMPORTED_KEY_MATERIAL = Operation("delete_imported_key_material", "kms:cmk:deleteMaterial")
# -- AWS KMS External Key Store proxy API (the XKS transport only; docs/xks.md) ----------------------
XKS_GET_HEALTH_STATUS = Operation("xks_get_health_status", "kms:xks:health", transport="xks")
XKS_GET_KEY_METADATA = Operation("xks_get_key_metadata", "kms:xks:metadata", transport="xks")
XKS_ENCRYPT = Operation("xks_encrypt", "kms:xks:encrypt", transport="xks")
XKS_DECRYPT = Operation("xks_decrypt", "kms:xks:decrypt", transport="xks")

# -- the AWS KMS API (the aws transport only; docs/aws-kms.md): the action is AWS's own -------------
AWS_CREATE_KEY = Operation("aws_create_key", "kms:CreateKey", transport="aws")
AWS_DESCRIBE_KEY = Operation("aws_describe_key", "kms:DescribeKey", transport="aws")
AWS_LIST_KEYS = Operation("aws_list_keys", "kms:ListKeys", transport="aws")
AWS_ENCRYPT = Operation("aws_encrypt", "kms:Encrypt", transport="aws")
AWS_DECRYPT = Operation("aws_decrypt", "kms:Decrypt", transport="aws")
AWS_RE_ENCRYPT = Operation("aws_re_encrypt", "kms:ReEncrypt", transport="aws")
AWS_GENERATE_DATA_KEY = Operation("aws_generate_data_key", "kms:GenerateDataKey", transport="aws")
AWS_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT = Operation(
    "aws_generate_data_key_without_plaintext", "kms:GenerateDataKeyWithoutPlaintext", transport="aws"
)
AWS_GENERATE_RANDOM = Operation("aws_generate_random", "kms:GenerateRandom", transport="aws")
AWS_CREATE_ALIAS = Operation("aws_create_alias", "kms:CreateAlias", transport="aws")
AWS_UPDATE_ALIAS = Operation("aws_update_alias", "kms:UpdateAlias", transport="aws")
AWS_DELETE_ALIAS = Operation("aws_delete_alias", "kms:DeleteAlias", transport="aws")
AWS_LIST_ALIASES = Operation("aws_list_aliases", "kms:ListAliases", transport="aws")
AWS_ENABLE_KEY = Operation("aws_enable_key", "kms:EnableKey", transport="aws")
AWS_DISABLE_KEY = Operation("aws_disable_key", "kms:DisableKey", transport="aws")
AWS_SCHEDULE_KEY_DELETION = Operation("aws_schedule_key_deletion", "kms:ScheduleKeyDeletion", transport="aws")
AWS_CANCEL_KEY_DELETION = Operation("aws_cancel_key_deletion", "kms:CancelKeyDeletion", transport="aws")
AWS_TAG_RESOURCE = Operation("aws_tag_resource", "kms:TagResource", transport="aws")
AWS_UNTAG_RESOURCE = Operation("aws_untag_resource", "kms:UntagResource", transport="aws")
AWS_LIST_RESOURCE_TAGS = Operation("aws_list_resource_tags", "kms:ListResourceTags", transport="aws")
AWS_GET_KEY_POLICY = Operation("aws_get_key_policy", "kms:GetKeyPolicy", transport="aws")
AWS_PUT_KEY_POLICY = Operation("aws_put_key_policy", "kms:PutKeyPolicy", transport="aws")
AWS_LIST_KEY_POLICIES = Operation("aws_list_key_policies", "kms:ListKeyPolicies", transport="aws")
AWS_ENABLE_KEY_ROTATION = Operation("aws_enable_key_rotation", "kms:EnableKeyRotation", transport="aws")
AWS_DISABLE_KEY_ROTATION = Operation("aws_disable_key_rotation", "kms:DisableKeyRotation", transport="aws")
AWS_GET_KEY_ROTATION_STATUS = Operation("aws_get_key_rotation_status", "kms:GetKeyRotationStatus", transport="aws")
AWS_UPDATE_KEY_DESCRIPTION = Operation("aws_update_key_description", "kms:UpdateKeyDescription", transport="aws")
AWS_SIGN = Operation("aws_sign", "kms:Sign", transport="aws")
AWS_VERIFY = Operation("aws_verify", "kms:Verify", transport="aws")
AWS_GET_PUBLIC_KEY = Operation("aws_get_public_key", "kms:GetPublicKey", transport="aws")
AWS_CREATE_GRANT = Operation("aws_create_grant", "kms:CreateGrant", transport="aws")
AWS_LIST_GRANTS = Operation("aws_list_grants", "kms:ListGrants", transport="aws")
AWS_LIST_RETIRABLE_GRANTS = Operation("aws_list_retirable_grants", "kms:ListRetirableGrants", transport="aws")
AWS_REVOKE_GRANT = Operation("aws_revoke_grant", "kms:RevokeGrant", transport="aws")
AWS_RETIRE_GRANT = Operation("aws_retire_grant", "kms:RetireGrant", transport="aws")
AWS_GET_PARAMETERS_FOR_IMPORT = Operation(
    "aws_get_parameters_for_import", "kms:GetParametersForImport", transport="aws"
)
AWS_IMPORT_KEY_MATERIAL = Operation("aws_import_key_material", "kms:ImportKeyMaterial", transport="aws")
AWS_DELETE_IMPORTED_KEY_MATERIAL = Operation(
    "aws_delete_imported_key_material", "kms:DeleteImportedKeyMaterial", transport="aws"
)
AWS_ROTATE_KEY_ON_DEMAND = Operation("aws_rotate_key_on_demand", "kms:RotateKeyOnDemand", transport="aws")
AWS_LIST_KEY_ROTATIONS = Operation("aws_list_key_rotations", "kms:ListKeyRotations", transport="aws")

# What a request that names no known operation (an unknown REST path) is audited and measured as.
# Not in the catalog: no policy allows it and no limit names it.
UNKNOWN = Operation("unknown", "")

# Every entry defined above, in order of definition.
CATALOG: tuple[Operation, ...] = tuple(
    value for value in tuple(globals().values()) if isinstance(value, Operation) and value is not UNKNOWN
)
BY_NAME: Mapping[str, Operation] = MappingProxyType({op.name: op for op in CATALOG})
# A former name -> the operation's entry (``[limits.operations]`` keeps accepting them).
BY_FORMER_NAME: Mapping[str, Operation] = MappingProxyType({former: op for op in CATALOG for former in op.former_names})
KNOWN_ACTIONS: frozenset[str] = frozenset(op.action for op in CATALOG)
# The names a grant's ``operations`` may list; the core's grant checks compare with these.
GRANTABLE_OPERATIONS: frozenset[str] = frozenset(op.grant_name for op in CATALOG if op.grant_name)
# The KMS API: what REST and gRPC both serve (every entry not bound to one transport).
KMS_API: tuple[Operation, ...] = tuple(op for op in CATALOG if not op.transport)


def _check_catalog() -> None:
    """Refuse at import a catalog whose names collide (a former name that is also a current one)."""
    if len(BY_NAME) != len(CATALOG):
        raise RuntimeError("operation catalog: two entries share a name")
    clash = set(BY_FORMER_NAME) & set(BY_NAME)
    if clash or len(BY_FORMER_NAME) != sum(len(op.former_names) for op in CATALOG):
        raise RuntimeError(f"operation catalog: former names reused: {sorted(clash)}")


_check_catalog()


def get(name: str) -> Operation:
    """The entry of a canonical name; KeyError for any other (a former name included)."""
    return BY_NAME[name]


def resolve(name: str) -> Operation | None:
    """The entry of a canonical or former name, None for an unknown one."""
    return BY_NAME.get(name) or BY_FORMER_NAME.get(name)
