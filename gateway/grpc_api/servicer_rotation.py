"""Key rotation on gRPC: enable/disable, interval, status, rotate on demand."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller, RotationStatus
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("rotation")


@rpcs.method("EnableKeyRotation", ops.ENABLE_KEY_ROTATION)
async def enable_key_rotation(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
    return _status(ctx.kms.enable_key_rotation(caller, r.key_id))


@rpcs.method("DisableKeyRotation", ops.DISABLE_KEY_ROTATION)
async def disable_key_rotation(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
    return _status(ctx.kms.disable_key_rotation(caller, r.key_id))


@rpcs.method("UpdateKeyRotationInterval", ops.UPDATE_KEY_ROTATION_INTERVAL)
async def update_key_rotation_interval(
    ctx: Ctx, r: pb.UpdateKeyRotationIntervalRequest, caller: Caller
) -> pb.KeyRotationStatusResponse:
    return _status(ctx.kms.update_key_rotation_interval(caller, r.key_id, r.rotation_interval))


@rpcs.method("GetKeyRotationStatus", ops.GET_KEY_ROTATION_STATUS)
async def get_key_rotation_status(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
    return _status(ctx.kms.get_key_rotation_status(caller, r.key_id))


@rpcs.method("RotateOnDemand", ops.ROTATE_ON_DEMAND)
async def rotate_on_demand(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.RotateOnDemandResponse:
    status = await ctx.kms.rotate_on_demand(caller, r.key_id)
    return pb.RotateOnDemandResponse(key_id=status.key_id, key_version=status.current_version)


def _status(status: RotationStatus) -> pb.KeyRotationStatusResponse:
    return pb.KeyRotationStatusResponse(
        key_id=status.key_id,
        key_rotation_enabled=status.key_rotation_enabled,
        rotation_interval=status.rotation_interval,
        last_rotation_time=status.last_rotation_time or 0,
        number_of_rotations=status.number_of_rotations,
        key_version=status.current_version,
    )
