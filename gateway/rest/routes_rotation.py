"""REST routes of key rotation (SDK: enable/disable_key_rotation, update_key_rotation_interval,
show_key_rotation_status, rotate_on_demand; codes KMS.0312, 0313, 2901, 3001, docs/api.md)."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.rest import schemas_rotation as s
from gateway.rest.routing import Ctx, RouteGroup

routes = RouteGroup(
    "rotation",
    "Rotate a symmetric key to a new version on the token; every older version keeps decrypting.",
)


@routes.post(
    "/enable-key-rotation",
    op=ops.ENABLE_KEY_ROTATION,
    request=s.RotationKeyRequest,
    response=s.RotationEmptyResponse,
    summary="Rotate the key automatically every rotation_interval days",
    sdk="enable_key_rotation",
)
async def enable_key_rotation(ctx: Ctx, body: s.RotationKeyRequest) -> s.RotationEmptyResponse:
    ctx.kms.enable_key_rotation(ctx.caller, body.key_id, body.sequence)
    return s.RotationEmptyResponse()


@routes.post(
    "/disable-key-rotation",
    op=ops.DISABLE_KEY_ROTATION,
    request=s.RotationKeyRequest,
    response=s.RotationEmptyResponse,
    summary="Stop automatic rotation",
    sdk="disable_key_rotation",
)
async def disable_key_rotation(ctx: Ctx, body: s.RotationKeyRequest) -> s.RotationEmptyResponse:
    ctx.kms.disable_key_rotation(ctx.caller, body.key_id, body.sequence)
    return s.RotationEmptyResponse()


@routes.post(
    "/update-key-rotation-interval",
    op=ops.UPDATE_KEY_ROTATION_INTERVAL,
    request=s.UpdateKeyRotationIntervalRequest,
    response=s.RotationEmptyResponse,
    summary="Set the days between automatic rotations (30 to 365)",
    sdk="update_key_rotation_interval",
)
async def update_key_rotation_interval(ctx: Ctx, body: s.UpdateKeyRotationIntervalRequest) -> s.RotationEmptyResponse:
    ctx.kms.update_key_rotation_interval(ctx.caller, body.key_id, body.rotation_interval, body.sequence)
    return s.RotationEmptyResponse()


@routes.post(
    "/get-key-rotation-status",
    op=ops.GET_KEY_ROTATION_STATUS,
    request=s.RotationKeyRequest,
    response=s.KeyRotationStatusResponse,
    summary="Whether the key rotates, how often, and how many times it has",
    sdk="show_key_rotation_status",
)
async def get_key_rotation_status(ctx: Ctx, body: s.RotationKeyRequest) -> s.KeyRotationStatusResponse:
    return s.rotation_status(ctx.kms.get_key_rotation_status(ctx.caller, body.key_id, body.sequence))


@routes.post(
    "/rotate-on-demand",
    op=ops.ROTATE_ON_DEMAND,
    request=s.RotateOnDemandRequest,
    response=s.RotateOnDemandResponse,
    summary="Rotate the key now",
    sdk="rotate_on_demand",
)
async def rotate_on_demand(ctx: Ctx, body: s.RotateOnDemandRequest) -> s.RotateOnDemandResponse:
    """Make a new token object for the key's next version; new encryptions use it from now on."""
    status = await ctx.kms.rotate_on_demand(ctx.caller, body.key_id, body.sequence)
    return s.RotateOnDemandResponse(key_id=status.key_id)
