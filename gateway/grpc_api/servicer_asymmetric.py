"""Asymmetric keys and key import on gRPC: translate messages, call the core, nothing more."""

from __future__ import annotations

from gateway.core.model import Caller
from gateway.grpc_api.convert import key_info
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.servicer_base import ServicerBase


class AsymmetricServicer(ServicerBase):
    # -- sign / verify / public key ---------------------------------------------------
    async def Sign(self, request, context):
        async def fn(r: pb.SignRequest, caller: Caller) -> pb.SignResponse:
            out = await self.kms.sign(
                caller, r.key_id, r.message, r.signing_algorithm, r.message_type, sequence=r.sequence or None
            )
            return pb.SignResponse(key_id=out.key_id, signature=out.signature)

        return await self._handle("sign", request, context, fn)

    async def Verify(self, request, context):
        async def fn(r: pb.VerifyRequest, caller: Caller) -> pb.VerifyResponse:
            out = await self.kms.verify(
                caller,
                r.key_id,
                r.message,
                r.signature,
                r.signing_algorithm,
                r.message_type,
                sequence=r.sequence or None,
            )
            return pb.VerifyResponse(key_id=out.key_id, signature_valid=out.signature_valid)

        return await self._handle("verify", request, context, fn)

    async def GetPublicKey(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.GetPublicKeyResponse:
            out = await self.kms.get_public_key(caller, r.key_id, sequence=r.sequence or None)
            return pb.GetPublicKeyResponse(
                key_id=out.key_id,
                public_key=out.pem,
                public_key_der=out.der,
                key_spec=out.key_spec,
                key_usage=out.key_usage,
            )

        return await self._handle("get_publickey", request, context, fn)

    # -- import -----------------------------------------------------------------------
    async def GetParametersForImport(self, request, context):
        async def fn(r: pb.GetParametersForImportRequest, caller: Caller) -> pb.GetParametersForImportResponse:
            out = await self.kms.get_parameters_for_import(
                caller, r.key_id, r.wrapping_algorithm, sequence=r.sequence or None
            )
            return pb.GetParametersForImportResponse(
                key_id=out.key_id,
                import_token=out.import_token,
                expiration_time=out.expiration_time,
                public_key=out.public_key,
            )

        return await self._handle("get_parameters_for_import", request, context, fn)

    async def ImportKeyMaterial(self, request, context):
        async def fn(r: pb.ImportKeyMaterialRequest, caller: Caller) -> pb.KeyInfoResponse:
            rec = await self.kms.import_key_material(
                caller,
                r.key_id,
                r.import_token,
                r.encrypted_key_material,
                r.expiration_time or None,
                sequence=r.sequence or None,
            )
            return pb.KeyInfoResponse(key_info=key_info(rec))

        return await self._handle("import_key_material", request, context, fn)

    async def DeleteImportedKeyMaterial(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
            rec = await self.kms.delete_imported_key_material(caller, r.key_id, sequence=r.sequence or None)
            return pb.KeyInfoResponse(key_info=key_info(rec))

        return await self._handle("delete_imported_key_material", request, context, fn)
