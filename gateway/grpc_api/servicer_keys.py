"""Key lifecycle on gRPC: create, describe, list, enable/disable, deletion, alias and description."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller
from gateway.grpc_api.convert import key_info, key_info_response
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("keys")


@rpcs.method("CreateKey", ops.CREATE_KEY)
async def create_key(ctx: Ctx, r: pb.CreateKeyRequest, caller: Caller) -> pb.KeyInfoResponse:
    rec = await ctx.kms.create_key(
        caller,
        key_alias=r.key_alias,
        key_description=r.key_description,
        key_spec=r.key_spec,
        key_usage=r.key_usage,
        origin=r.origin,
        realm=r.realm,
        sequence=r.sequence or None,
    )
    return key_info_response(ctx, rec)


@rpcs.method("DescribeKey", ops.DESCRIBE_KEY)
async def describe_key(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
    return key_info_response(ctx, ctx.kms.describe_key(caller, r.key_id))


@rpcs.method("ListKeys", ops.LIST_KEYS)
async def list_keys(ctx: Ctx, r: pb.ListKeysRequest, caller: Caller) -> pb.ListKeysResponse:
    page = ctx.kms.list_keys(caller, limit=r.limit or None, marker=r.marker or None, key_state=r.key_state or None)
    rotating = ctx.kms.rotation_enabled_keys(page.keys)
    return pb.ListKeysResponse(
        keys=[k.key_id for k in page.keys],
        key_details=[key_info(k, rotating) for k in page.keys],
        next_marker=page.next_marker,
        truncated=page.truncated,
        total=page.total,
    )


@rpcs.method("EnableKey", ops.ENABLE_KEY)
async def enable_key(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
    return key_info_response(ctx, ctx.kms.enable_key(caller, r.key_id))


@rpcs.method("DisableKey", ops.DISABLE_KEY)
async def disable_key(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
    return key_info_response(ctx, ctx.kms.disable_key(caller, r.key_id))


@rpcs.method("ScheduleKeyDeletion", ops.SCHEDULE_KEY_DELETION)
async def schedule_key_deletion(ctx: Ctx, r: pb.ScheduleKeyDeletionRequest, caller: Caller) -> pb.KeyStateResponse:
    rec = ctx.kms.schedule_key_deletion(caller, r.key_id, r.pending_days)
    return pb.KeyStateResponse(key_id=rec.key_id, key_state=int(rec.key_state))


@rpcs.method("CancelKeyDeletion", ops.CANCEL_KEY_DELETION)
async def cancel_key_deletion(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyStateResponse:
    rec = ctx.kms.cancel_key_deletion(caller, r.key_id)
    return pb.KeyStateResponse(key_id=rec.key_id, key_state=int(rec.key_state))


@rpcs.method("UpdateKeyAlias", ops.UPDATE_KEY_ALIAS)
async def update_key_alias(ctx: Ctx, r: pb.UpdateKeyAliasRequest, caller: Caller) -> pb.KeyInfoResponse:
    return key_info_response(ctx, ctx.kms.update_key_alias(caller, r.key_id, r.key_alias))


@rpcs.method("UpdateKeyDescription", ops.UPDATE_KEY_DESCRIPTION)
async def update_key_description(ctx: Ctx, r: pb.UpdateKeyDescriptionRequest, caller: Caller) -> pb.KeyInfoResponse:
    return key_info_response(ctx, ctx.kms.update_key_description(caller, r.key_id, r.key_description))
