"""REST routes of the key lifecycle (docs/api.md)."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.rest import schemas_keys as s
from gateway.rest.routing import Ctx, RouteGroup

routes = RouteGroup(
    "keys", "Create, inspect, enable/disable, schedule deletion of, rename and re-describe master keys."
)


@routes.post(
    "/create-key",
    op=ops.CREATE_KEY,
    request=s.CreateKeyRequest,
    response=s.CreateKeyResponse,
    summary="Create a master key",
    sdk="create_key",
)
async def create_key(ctx: Ctx, body: s.CreateKeyRequest) -> s.CreateKeyResponse:
    """Create an AES-256 master key as a non-extractable token object."""
    rec = await ctx.kms.create_key(
        ctx.caller,
        key_alias=body.key_alias,
        key_description=body.key_description or "",
        key_spec=body.key_spec or "",
        key_usage=body.key_usage or "",
        origin=body.origin or "",
        realm=body.realm or "",
        sequence=body.sequence,
    )
    return s.CreateKeyResponse(key_info=s.CreatedKeyInfo(key_id=rec.key_id, domain_id=rec.domain_id))


@routes.post(
    "/enable-key",
    op=ops.ENABLE_KEY,
    request=s.KeyIdRequest,
    response=s.KeyStateInfoResponse,
    summary="Enable a disabled key",
    sdk="enable_key",
)
async def enable_key(ctx: Ctx, body: s.KeyIdRequest) -> s.KeyStateInfoResponse:
    rec = ctx.kms.enable_key(ctx.caller, body.key_id)
    return s.KeyStateInfoResponse(key_info=s.KeyStateInfo(key_id=rec.key_id, key_state=str(int(rec.key_state))))


@routes.post(
    "/disable-key",
    op=ops.DISABLE_KEY,
    request=s.KeyIdRequest,
    response=s.KeyStateInfoResponse,
    summary="Disable an enabled key",
    sdk="disable_key",
)
async def disable_key(ctx: Ctx, body: s.KeyIdRequest) -> s.KeyStateInfoResponse:
    rec = ctx.kms.disable_key(ctx.caller, body.key_id)
    return s.KeyStateInfoResponse(key_info=s.KeyStateInfo(key_id=rec.key_id, key_state=str(int(rec.key_state))))


@routes.post(
    "/schedule-key-deletion",
    op=ops.SCHEDULE_KEY_DELETION,
    request=s.ScheduleKeyDeletionRequest,
    response=s.KeyStateResponse,
    summary="Schedule a key's deletion in 7 to 1096 days",
    sdk="delete_key",
)
async def schedule_key_deletion(ctx: Ctx, body: s.ScheduleKeyDeletionRequest) -> s.KeyStateResponse:
    rec = ctx.kms.schedule_key_deletion(ctx.caller, body.key_id, body.pending_days)
    return s.KeyStateResponse(key_id=rec.key_id, key_state=str(int(rec.key_state)))


@routes.post(
    "/cancel-key-deletion",
    op=ops.CANCEL_KEY_DELETION,
    request=s.KeyIdRequest,
    response=s.KeyStateResponse,
    summary="Cancel a scheduled deletion (the key comes back disabled)",
    sdk="cancel_key_deletion",
)
async def cancel_key_deletion(ctx: Ctx, body: s.KeyIdRequest) -> s.KeyStateResponse:
    rec = ctx.kms.cancel_key_deletion(ctx.caller, body.key_id)
    return s.KeyStateResponse(key_id=rec.key_id, key_state=str(int(rec.key_state)))


@routes.post(
    "/list-keys",
    op=ops.LIST_KEYS,
    request=s.ListKeysRequest,
    response=s.ListKeysResponse,
    summary="List the project's keys, a page at a time",
    sdk="list_keys",
)
async def list_keys(ctx: Ctx, body: s.ListKeysRequest) -> s.ListKeysResponse:
    page = ctx.kms.list_keys(
        ctx.caller,
        limit=body.limit,
        marker=None if body.marker is None else str(body.marker),
        key_state=body.key_state,
    )
    return s.list_keys_response(page, ctx.kms.rotation_enabled_keys(page.keys))


@routes.post(
    "/describe-key",
    op=ops.DESCRIBE_KEY,
    request=s.KeyIdRequest,
    response=s.DescribeKeyResponse,
    summary="Describe a key",
    sdk="list_key_detail",
)
async def describe_key(ctx: Ctx, body: s.KeyIdRequest) -> s.DescribeKeyResponse:
    rec = ctx.kms.describe_key(ctx.caller, body.key_id)
    return s.DescribeKeyResponse(key_info=s.key_details(rec, bool(ctx.kms.rotation_enabled_keys([rec]))))


@routes.post(
    "/update-key-alias",
    op=ops.UPDATE_KEY_ALIAS,
    request=s.UpdateKeyAliasRequest,
    response=s.UpdateKeyAliasResponse,
    summary="Rename a key",
    sdk="update_key_alias",
)
async def update_key_alias(ctx: Ctx, body: s.UpdateKeyAliasRequest) -> s.UpdateKeyAliasResponse:
    rec = ctx.kms.update_key_alias(ctx.caller, body.key_id, body.key_alias)
    return s.UpdateKeyAliasResponse(key_info=s.KeyAliasInfo(key_id=rec.key_id, key_alias=rec.key_alias))


@routes.post(
    "/update-key-description",
    op=ops.UPDATE_KEY_DESCRIPTION,
    request=s.UpdateKeyDescriptionRequest,
    response=s.UpdateKeyDescriptionResponse,
    summary="Change a key's description",
    sdk="update_key_description",
)
async def update_key_description(ctx: Ctx, body: s.UpdateKeyDescriptionRequest) -> s.UpdateKeyDescriptionResponse:
    rec = ctx.kms.update_key_description(ctx.caller, body.key_id, body.key_description)
    return s.UpdateKeyDescriptionResponse(
        key_info=s.KeyDescriptionInfo(key_id=rec.key_id, key_description=rec.key_description)
    )
