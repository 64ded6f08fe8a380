"""Random bytes, key counts and quotas on gRPC."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("misc")


@rpcs.method("GenerateRandom", ops.GEN_RANDOM)
async def generate_random(ctx: Ctx, r: pb.GenerateRandomRequest, caller: Caller) -> pb.GenerateRandomResponse:
    data = await ctx.kms.generate_random(caller, r.random_data_length, r.sequence or None)
    return pb.GenerateRandomResponse(random_data=data)


@rpcs.method("GetUserInstances", ops.USER_INSTANCES)
async def get_user_instances(ctx: Ctx, r: pb.Empty, caller: Caller) -> pb.GetUserInstancesResponse:
    return pb.GetUserInstancesResponse(instance_num=ctx.kms.get_user_instances(caller))


@rpcs.method("GetUserQuotas", ops.USER_QUOTAS)
async def get_user_quotas(ctx: Ctx, r: pb.Empty, caller: Caller) -> pb.GetUserQuotasResponse:
    quotas = ctx.kms.get_user_quotas(caller)
    return pb.GetUserQuotasResponse(
        resources=[pb.QuotaResource(type=q.type, used=q.used, quota=q.quota) for q in quotas]
    )
