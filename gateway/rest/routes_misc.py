"""REST routes of gen-random, user-instances and user-quotas (docs/api.md)."""

from __future__ import annotations

from gateway.rest import schemas_misc as s
from gateway.rest.routing import Ctx, RouteGroup
from gateway.rest.schemas_common import hex_out

routes = RouteGroup("misc", "Random bytes from the token, key counts and quotas.")


@routes.post(
    "/gen-random",
    op="gen_random",
    request=s.GenRandomRequest,
    response=s.GenRandomResponse,
    summary="Random bytes from the token's RNG (8 to 8192 bits)",
    sdk="create_random",
    action="kms:cmk:generate",
)
async def gen_random(ctx: Ctx, body: s.GenRandomRequest) -> s.GenRandomResponse:
    data = await ctx.kms.generate_random(ctx.caller, body.random_data_length, body.sequence)
    return s.GenRandomResponse(random_data=hex_out(data))


@routes.get(
    "/user-instances",
    op="user_instances",
    response=s.UserInstancesResponse,
    summary="Count the project's master keys",
    sdk="show_user_instances",
    action="kms:cmk:getInstance",
)
async def user_instances(ctx: Ctx, body: None) -> s.UserInstancesResponse:
    return s.UserInstancesResponse(instance_num=ctx.kms.get_user_instances(ctx.caller))


@routes.get(
    "/user-quotas",
    op="user_quotas",
    response=s.UserQuotasResponse,
    summary="The project's quotas and their use",
    sdk="show_user_quotas",
    action="kms:cmk:getQuota",
)
async def user_quotas(ctx: Ctx, body: None) -> s.UserQuotasResponse:
    resources = [s.QuotaResource(type=q.type, used=q.used, quota=q.quota) for q in ctx.kms.get_user_quotas(ctx.caller)]
    return s.UserQuotasResponse(quotas=s.Quotas(resources=resources))
