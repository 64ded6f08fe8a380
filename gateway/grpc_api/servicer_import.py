"""Bring your own key on gRPC: import parameters, import and delete key material."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller
from gateway.grpc_api.convert import key_info_response
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("import")


@rpcs.method("GetParametersForImport", ops.GET_PARAMETERS_FOR_IMPORT)
async def get_parameters_for_import(
    ctx: Ctx, r: pb.GetParametersForImportRequest, caller: Caller
) -> pb.GetParametersForImportResponse:
    out = await ctx.kms.get_parameters_for_import(caller, r.key_id, r.wrapping_algorithm, sequence=r.sequence or None)
    return pb.GetParametersForImportResponse(
        key_id=out.key_id, import_token=out.import_token, expiration_time=out.expiration_time, public_key=out.public_key
    )


@rpcs.method("ImportKeyMaterial", ops.IMPORT_KEY_MATERIAL)
async def import_key_material(ctx: Ctx, r: pb.ImportKeyMaterialRequest, caller: Caller) -> pb.KeyInfoResponse:
    rec = await ctx.kms.import_key_material(
        caller,
        r.key_id,
        r.import_token,
        r.encrypted_key_material,
        r.expiration_time or None,
        sequence=r.sequence or None,
    )
    return key_info_response(ctx, rec)


@rpcs.method("DeleteImportedKeyMaterial", ops.DELETE_IMPORTED_KEY_MATERIAL)
async def delete_imported_key_material(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
    rec = await ctx.kms.delete_imported_key_material(caller, r.key_id, sequence=r.sequence or None)
    return key_info_response(ctx, rec)
