"""encrypt-data / decrypt-data on gRPC (small payloads sealed directly by a master key)."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("data")


@rpcs.method("EncryptData", ops.ENCRYPT_DATA)
async def encrypt_data(ctx: Ctx, r: pb.EncryptDataRequest, caller: Caller) -> pb.EncryptDataResponse:
    out = await ctx.kms.encrypt_data(
        caller,
        r.key_id,
        r.plain_text,
        dict(r.encryption_context),
        additional_authenticated_data=r.additional_authenticated_data or None,
        encryption_algorithm=r.encryption_algorithm,
        sequence=r.sequence or None,
    )
    return pb.EncryptDataResponse(key_id=out.key_id, cipher_text=out.cipher_text)


@rpcs.method("DecryptData", ops.DECRYPT_DATA)
async def decrypt_data(ctx: Ctx, r: pb.DecryptDataRequest, caller: Caller) -> pb.DecryptDataResponse:
    out = await ctx.kms.decrypt_data(
        caller,
        r.cipher_text,
        dict(r.encryption_context),
        additional_authenticated_data=r.additional_authenticated_data or None,
        key_id=r.key_id or None,
        encryption_algorithm=r.encryption_algorithm,
        sequence=r.sequence or None,
    )
    return pb.DecryptDataResponse(key_id=out.key_id, plain_text=out.plain_text)
