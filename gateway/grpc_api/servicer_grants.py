"""Grants on gRPC: another user or domain may use one key for the listed operations."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller, GrantPage
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("grants")


@rpcs.method("CreateGrant", ops.CREATE_GRANT)
async def create_grant(ctx: Ctx, r: pb.CreateGrantRequest, caller: Caller) -> pb.CreateGrantResponse:
    grant = ctx.kms.create_grant(
        caller,
        r.key_id,
        grantee_principal=r.grantee_principal,
        operations=list(r.operations),
        name=r.name,
        retiring_principal=r.retiring_principal,
        grantee_principal_type=r.grantee_principal_type,
    )
    return pb.CreateGrantResponse(grant_id=grant.grant_id)


@rpcs.method("ListGrants", ops.LIST_GRANTS)
async def list_grants(ctx: Ctx, r: pb.ListGrantsRequest, caller: Caller) -> pb.ListGrantsResponse:
    return _page(ctx.kms.list_grants(caller, r.key_id, limit=r.limit or None, marker=r.marker or None))


@rpcs.method("ListRetirableGrants", ops.LIST_RETIRABLE_GRANTS)
async def list_retirable_grants(ctx: Ctx, r: pb.ListRetirableGrantsRequest, caller: Caller) -> pb.ListGrantsResponse:
    return _page(ctx.kms.list_retirable_grants(caller, limit=r.limit or None, marker=r.marker or None))


@rpcs.method("RevokeGrant", ops.REVOKE_GRANT)
async def revoke_grant(ctx: Ctx, r: pb.GrantIdRequest, caller: Caller) -> pb.Empty:
    ctx.kms.revoke_grant(caller, r.key_id, r.grant_id)
    return pb.Empty()


@rpcs.method("RetireGrant", ops.RETIRE_GRANT)
async def retire_grant(ctx: Ctx, r: pb.GrantIdRequest, caller: Caller) -> pb.Empty:
    ctx.kms.retire_grant(caller, r.key_id, r.grant_id)
    return pb.Empty()


def _page(page: GrantPage) -> pb.ListGrantsResponse:
    return pb.ListGrantsResponse(
        grants=[
            pb.Grant(
                key_id=g.key_id,
                grant_id=g.grant_id,
                grantee_principal=g.grantee_principal,
                grantee_principal_type=g.grantee_principal_type,
                operations=g.operations,
                issuing_principal=g.issuing_principal,
                creation_date=g.creation_date,
                name=g.name,
                retiring_principal=g.retiring_principal,
            )
            for g in page.grants
        ],
        next_marker=page.next_marker,
        truncated=page.truncated,
        total=page.total,
    )
