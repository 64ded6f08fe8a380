"""REST routes of gen-random, user-instances and user-quotas (docs/api.md)."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.rest import schemas_misc as s
from gateway.rest.routing import Ctx, RouteGroup
from gateway.rest.schemas_common import hex_out

routes = RouteGroup("misc", "Random bytes from the token, key counts and quotas.")


@routes.post(
    "/gen-random",
    op=ops.GEN_RANDOM,
    request=s.GenRandomRequest,
    response=s.GenRandomResponse,
    summary="Random bytes from the token's RNG (8 to 8192 bits)",
    sdk="create_random",
)
async def gen_random(ctx: Ctx, body: s.GenRandomRequest) -> s.GenRandomResponse:
    data = await ctx.kms.generate_random(ctx.caller, body.random_data_length, body.sequence)
    return s.GenRandomResponse(random_data=hex_out(data))


@routes.get(
    "/user-instances",
    op=ops.USER_INSTANCES,
    response=s.UserInstancesResponse,
    summary="Count the project's master keys",
    sdk="show_user_instances",
)
async def user_instances(ctx: Ctx, body: None) -> s.UserInstancesResponse:
    return s.UserInstancesResponse(instance_num=ctx.kms.get_user_instances(ctx.caller))


@routes.get(
    "/user-quotas",
    op=ops.USER_QUOTAS,
    response=s.UserQuotasResponse,
    summary="The project's quotas and their use",
    sdk="show_user_quotas",
)
async def user_quotas(ctx: Ctx, body: None) -> s.UserQuotasResponse:
    resources = [s.QuotaResource(type=q.type, used=q.used, quota=q.quota) for q in ctx.kms.get_user_quotas(ctx.caller)]
    return s.UserQuotasResponse(quotas=s.Quotas(resources=resources))
