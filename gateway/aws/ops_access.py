"""Aliases, grants and key import: Create/Update/DeleteAlias, ListAliases, CreateGrant, ListGrants,
ListRetirableGrants, RevokeGrant, RetireGrant, GetParametersForImport, ImportKeyMaterial,
DeleteImportedKeyMaterial."""

from __future__ import annotations

from typing import Any

from gateway.aws.metadata import grant_entry, seconds
from gateway.aws.routing import handles
from gateway.core import operations as ops
from gateway.core.aws import AwsService
from gateway.core.aws.directory import AwsIdentity
from gateway.core.aws.names import alias_arn, key_arn

Req = dict[str, Any]
Resp = dict[str, Any]


@handles("CreateAlias", ops.AWS_CREATE_ALIAS)
async def create_alias(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.aliases.create_alias(who, req["AliasName"], req["TargetKeyId"])
    return {}


@handles("UpdateAlias", ops.AWS_UPDATE_ALIAS)
async def update_alias(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.aliases.update_alias(who, req["AliasName"], req["TargetKeyId"])
    return {}


@handles("DeleteAlias", ops.AWS_DELETE_ALIAS)
async def delete_alias(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.aliases.delete_alias(who, req["AliasName"])
    return {}


@handles("ListAliases", ops.AWS_LIST_ALIASES)
async def list_aliases(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    rows, marker = aws.aliases.list_aliases(who, req.get("KeyId"), req.get("Limit"), req.get("Marker"))
    aliases = [
        {
            "AliasName": r.alias_name,
            "AliasArn": alias_arn(r.region, r.account_id, r.alias_name),
            "TargetKeyId": r.key_id,
            "CreationDate": seconds(r.created_at),
            "LastUpdatedDate": seconds(r.updated_at),
        }
        for r in rows
    ]
    return {"Aliases": aliases, "Truncated": bool(marker), "NextMarker": marker or None}


# -- grants --------------------------------------------------------------------------------------
@handles("CreateGrant", ops.AWS_CREATE_GRANT)
async def create_grant(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    grant = aws.grants.create_grant(
        who,
        req["KeyId"],
        req["GranteePrincipal"],
        req["Operations"],
        req.get("RetiringPrincipal"),
        req.get("Constraints"),
        req.get("Name"),
    )
    return {"GrantToken": grant.grant_token, "GrantId": grant.grant_id}


@handles("ListGrants", ops.AWS_LIST_GRANTS)
async def list_grants(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key, rows, marker = aws.grants.list_grants(
        who, req["KeyId"], req.get("Limit"), req.get("Marker"), req.get("GrantId"), req.get("GranteePrincipal")
    )
    return {"Grants": [grant_entry(g, key.arn) for g in rows], "Truncated": bool(marker), "NextMarker": marker or None}


@handles("ListRetirableGrants", ops.AWS_LIST_RETIRABLE_GRANTS)
async def list_retirable_grants(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    rows, marker = aws.grants.list_retirable_grants(who, req["RetiringPrincipal"], req.get("Limit"), req.get("Marker"))
    grants = []
    for g in rows:
        row = aws.directory.key_row(g.key_id)
        arn = key_arn(row.region, row.account_id, g.key_id) if row is not None else g.key_id
        grants.append(grant_entry(g, arn))
    return {"Grants": grants, "Truncated": bool(marker), "NextMarker": marker or None}


@handles("RevokeGrant", ops.AWS_REVOKE_GRANT)
async def revoke_grant(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.grants.revoke_grant(who, req["KeyId"], req["GrantId"])
    return {}


@handles("RetireGrant", ops.AWS_RETIRE_GRANT)
async def retire_grant(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.grants.retire_grant(who, req.get("GrantToken"), req.get("KeyId"), req.get("GrantId"))
    return {}


# -- key import ----------------------------------------------------------------------------------
@handles("GetParametersForImport", ops.AWS_GET_PARAMETERS_FOR_IMPORT)
async def get_parameters_for_import(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key, params = await aws.get_parameters_for_import(
        who, req["KeyId"], req["WrappingAlgorithm"], req["WrappingKeySpec"]
    )
    return {
        "KeyId": key.arn,
        "ImportToken": params.import_token,
        "PublicKey": params.public_key,
        "ParametersValidTo": float(params.expiration_time),
    }


@handles("ImportKeyMaterial", ops.AWS_IMPORT_KEY_MATERIAL)
async def import_key_material(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    valid_to = req.get("ValidTo")
    key = await aws.import_key_material(
        who,
        req["KeyId"],
        req["ImportToken"],
        req["EncryptedKeyMaterial"],
        int(valid_to) if valid_to is not None else None,
        req.get("ExpirationModel"),
    )
    return {"KeyId": key.arn}


@handles("DeleteImportedKeyMaterial", ops.AWS_DELETE_IMPORTED_KEY_MATERIAL)
async def delete_imported_key_material(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key = await aws.delete_imported_key_material(who, req["KeyId"])
    return {"KeyId": key.arn}
