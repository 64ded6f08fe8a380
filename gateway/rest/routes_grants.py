"""REST routes of grants (SDK: create_grant, list_grants, list_retirable_grants, cancel_grant,
cancel_self_grant; codes KMS.24xx/25xx, docs/api.md)."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.rest import schemas_grants as s
from gateway.rest.routing import Ctx, RouteGroup

routes = RouteGroup(
    "grants",
    "Let another user or domain use one key for listed operations, until the grant is revoked or retired.",
)


def _marker(value: int | None) -> str | None:
    return None if value is None else str(value)


@routes.post(
    "/create-grant",
    op=ops.CREATE_GRANT,
    request=s.CreateGrantRequest,
    response=s.CreateGrantResponse,
    summary="Grant a user or domain operations on a key",
    sdk="create_grant",
)
async def create_grant(ctx: Ctx, body: s.CreateGrantRequest) -> s.CreateGrantResponse:
    grant = ctx.kms.create_grant(
        ctx.caller,
        body.key_id,
        grantee_principal=body.grantee_principal,
        operations=body.operations,
        name=body.name or "",
        retiring_principal=body.retiring_principal or "",
        grantee_principal_type=body.grantee_principal_type or "",
        sequence=body.sequence,
    )
    return s.CreateGrantResponse(grant_id=grant.grant_id)


@routes.post(
    "/list-grants",
    op=ops.LIST_GRANTS,
    request=s.ListGrantsRequest,
    response=s.ListGrantsResponse,
    summary="List a key's grants, a page at a time",
    sdk="list_grants",
)
async def list_grants(ctx: Ctx, body: s.ListGrantsRequest) -> s.ListGrantsResponse:
    page = ctx.kms.list_grants(
        ctx.caller, body.key_id, limit=body.limit, marker=_marker(body.marker), sequence=body.sequence
    )
    return s.list_grants_response(page)


@routes.post(
    "/list-retirable-grants",
    op=ops.LIST_RETIRABLE_GRANTS,
    request=s.ListRetirableGrantsRequest,
    response=s.ListGrantsResponse,
    summary="List the grants the caller may retire",
    sdk="list_retirable_grants",
)
async def list_retirable_grants(ctx: Ctx, body: s.ListRetirableGrantsRequest) -> s.ListGrantsResponse:
    page = ctx.kms.list_retirable_grants(
        ctx.caller, limit=body.limit, marker=_marker(body.marker), sequence=body.sequence
    )
    return s.list_grants_response(page)


@routes.post(
    "/revoke-grant",
    op=ops.REVOKE_GRANT,
    request=s.GrantIdRequest,
    response=s.GrantEmptyResponse,
    summary="Revoke a grant (the key's owner)",
    sdk="cancel_grant",
)
async def revoke_grant(ctx: Ctx, body: s.GrantIdRequest) -> s.GrantEmptyResponse:
    ctx.kms.revoke_grant(ctx.caller, body.key_id, body.grant_id, body.sequence)
    return s.GrantEmptyResponse()


@routes.post(
    "/retire-grant",
    op=ops.RETIRE_GRANT,
    request=s.GrantIdRequest,
    response=s.GrantEmptyResponse,
    summary="Retire a grant (its retiring principal or its grantee)",
    sdk="cancel_self_grant",
)
async def retire_grant(ctx: Ctx, body: s.GrantIdRequest) -> s.GrantEmptyResponse:
    ctx.kms.retire_grant(ctx.caller, body.key_id, body.grant_id, body.sequence)
    return s.GrantEmptyResponse()
