"""Operation → permission action: the one table both transports and the CLI read.

The actions are the seed's chapter 5 (003, "5.2 加密密钥管理" and appendix A.4.1) where it names
one; grants, rotation and asymmetric operations (absent from that chapter) use the names the
provider's IAM documents for them. A caller's policy is a set of these actions (``Caller.actions``;
``None`` = every action of its project). Operation names are the REST ``RestRoute.op`` values and
the gRPC ``_handle(op, ...)`` names; where the gRPC servicer names an operation differently (tags)
both names are listed, and gRPC-only batch operations take the action of their single counterpart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from gateway.core.errors import Err, KmsError

_OPS: dict[str, str] = {
    # keys
    "create_key": "kms:cmk:create",
    "enable_key": "kms:cmk:enable",
    "disable_key": "kms:cmk:disable",
    "schedule_key_deletion": "kms:cmk:update",
    "cancel_key_deletion": "kms:cmk:update",
    "list_keys": "kms:cmk:list",
    "describe_key": "kms:cmk:get",
    "update_key_alias": "kms:cmk:update",
    "update_key_description": "kms:cmk:update",
    "gen_random": "kms:cmk:generate",
    "user_instances": "kms:cmk:getInstance",
    "user_quotas": "kms:cmk:getQuota",
    # data keys (batch_*: one action per call, the single operation's)
    "create_datakey": "kms:dek:create",
    "create_datakey_without_plaintext": "kms:dek:create",
    "batch_create_datakey": "kms:dek:create",
    "encrypt_datakey": "kms:dek:crypto",
    "decrypt_datakey": "kms:dek:crypto",
    "batch_encrypt_datakey": "kms:dek:crypto",
    "batch_decrypt_datakey": "kms:dek:crypto",
    # data
    "encrypt_data": "kms:cmk:crypto",
    "decrypt_data": "kms:cmk:crypto",
    # import (BYOK)
    "get_parameters_for_import": "kms:cmk:getMaterial",
    "import_key_material": "kms:cmk:importMaterial",
    "delete_imported_key_material": "kms:cmk:deleteMaterial",
    # asymmetric
    "sign": "kms:cmk:sign",
    "verify": "kms:cmk:verify",
    "get_publickey": "kms:cmk:getPublicKey",
    # rotation
    "enable_key_rotation": "kms:cmk:enableRotation",
    "disable_key_rotation": "kms:cmk:disableRotation",
    "update_key_rotation_interval": "kms:cmk:updateRotation",
    "get_key_rotation_status": "kms:cmk:getRotation",
    "rotate_on_demand": "kms:cmk:rotate",
    # grants
    "create_grant": "kms:grant:create",
    "list_grants": "kms:grant:list",
    "list_retirable_grants": "kms:grant:listRetirable",
    "revoke_grant": "kms:grant:revoke",
    "retire_grant": "kms:grant:retire",
    # tags (REST op names)
    "list_kms_by_tags": "kms:cmkTag:listInstance",
    "list_kms_tags": "kms:cmkTag:list",
    "show_kms_tags": "kms:cmkTag:list",
    "batch_create_kms_tags": "kms:cmkTag:batch",
    "create_kms_tag": "kms:cmkTag:create",
    "delete_tag": "kms:cmkTag:delete",
    # tags (gRPC op names of the same operations)
    "list_resource_instances": "kms:cmkTag:listInstance",
    "list_project_tags": "kms:cmkTag:list",
    "list_key_tags": "kms:cmkTag:list",
    "batch_key_tags": "kms:cmkTag:batch",
    "create_key_tag": "kms:cmkTag:create",
    "delete_key_tag": "kms:cmkTag:delete",
}

OP_ACTIONS: Mapping[str, str] = MappingProxyType(_OPS)
KNOWN_ACTIONS: frozenset[str] = frozenset(_OPS.values())


def action_for(op: str) -> str:
    """The action an operation needs ("" for an operation this table does not know)."""
    return _OPS.get(op, "")


def parse_actions(names: Iterable[str]) -> frozenset[str]:
    """A policy from action names (commas allowed inside an item); ValueError names any unknown one."""
    actions = frozenset(a.strip() for name in names for a in name.split(",") if a.strip())
    unknown = sorted(actions - KNOWN_ACTIONS)
    if unknown:
        raise ValueError(f"unknown action(s): {', '.join(unknown)} (known: {', '.join(sorted(KNOWN_ACTIONS))})")
    if not actions:
        raise ValueError("a policy needs at least one action (or none at all for every action)")
    return actions


def check(actions: frozenset[str] | None, op: str) -> None:
    """OPERATION_DENIED unless the policy allows ``op`` (an unknown op is denied to a limited caller)."""
    if actions is not None and _OPS.get(op) not in actions:
        raise KmsError(Err.OPERATION_DENIED, f"This credential may not perform {action_for(op) or op}.")
