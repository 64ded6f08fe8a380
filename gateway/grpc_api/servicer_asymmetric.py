"""Asymmetric keys on gRPC: sign, verify and the public key of a SIGN_VERIFY key pair."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("asymmetric")


@rpcs.method("Sign", ops.SIGN)
async def sign(ctx: Ctx, r: pb.SignRequest, caller: Caller) -> pb.SignResponse:
    out = await ctx.kms.sign(
        caller, r.key_id, r.message, r.signing_algorithm, r.message_type, sequence=r.sequence or None
    )
    return pb.SignResponse(key_id=out.key_id, signature=out.signature)


@rpcs.method("Verify", ops.VERIFY)
async def verify(ctx: Ctx, r: pb.VerifyRequest, caller: Caller) -> pb.VerifyResponse:
    out = await ctx.kms.verify(
        caller, r.key_id, r.message, r.signature, r.signing_algorithm, r.message_type, sequence=r.sequence or None
    )
    return pb.VerifyResponse(key_id=out.key_id, signature_valid=out.signature_valid)


@rpcs.method("GetPublicKey", ops.GET_PUBLICKEY)
async def get_public_key(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.GetPublicKeyResponse:
    out = await ctx.kms.get_public_key(caller, r.key_id, sequence=r.sequence or None)
    return pb.GetPublicKeyResponse(
        key_id=out.key_id, public_key=out.pem, public_key_der=out.der, key_spec=out.key_spec, key_usage=out.key_usage
    )
