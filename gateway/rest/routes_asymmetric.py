"""REST routes of asymmetric keys and key import (sign, verify, get-publickey, import; docs/api.md)."""

from __future__ import annotations

import base64

from gateway.core import operations as ops
from gateway.core.errors import Err, KmsError
from gateway.rest import schemas_asymmetric as s
from gateway.rest.routing import Ctx, RouteGroup
from gateway.rest.schemas_common import bool_str
from gateway.rest.schemas_keys import KeyIdRequest

routes = RouteGroup(
    "asymmetric",
    "Asymmetric keys (sign, verify, public key) and bring-your-own-key import of AES-256 material.",
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@routes.post(
    "/sign",
    op=ops.SIGN,
    request=s.SignRequest,
    response=s.SignResponse,
    summary="Sign a digest or a message with an asymmetric key's private key (inside the HSM)",
    sdk="sign",
)
async def sign(ctx: Ctx, body: s.SignRequest) -> s.SignResponse:
    out = await ctx.kms.sign(
        ctx.caller, body.key_id, body.message, body.signing_algorithm, body.message_type or "", sequence=body.sequence
    )
    return s.SignResponse(key_id=out.key_id, signature=_b64(out.signature))


@routes.post(
    "/verify",
    op=ops.VERIFY,
    request=s.VerifyRequest,
    response=s.VerifyResponse,
    summary="Verify a signature with an asymmetric key",
    sdk="validate_signature",
)
async def verify(ctx: Ctx, body: s.VerifyRequest) -> s.VerifyResponse:
    out = await ctx.kms.verify(
        ctx.caller,
        body.key_id,
        body.message,
        body.signature,
        body.signing_algorithm,
        body.message_type or "",
        sequence=body.sequence,
    )
    return s.VerifyResponse(key_id=out.key_id, signature_valid=bool_str(out.signature_valid))


@routes.post(
    "/get-publickey",
    op=ops.GET_PUBLICKEY,
    request=KeyIdRequest,
    response=s.PublicKeyResponse,
    summary="The public key of an asymmetric key (PEM)",
    sdk="show_public_key",
)
async def get_publickey(ctx: Ctx, body: KeyIdRequest) -> s.PublicKeyResponse:
    out = await ctx.kms.get_public_key(ctx.caller, body.key_id, sequence=body.sequence)
    return s.PublicKeyResponse(key_id=out.key_id, public_key=out.pem)


@routes.post(
    "/get-parameters-for-import",
    op=ops.GET_PARAMETERS_FOR_IMPORT,
    request=s.GetParametersForImportRequest,
    response=s.ImportParametersResponse,
    summary="An RSA-2048 wrapping key and an import token for an origin=external key",
    sdk="create_parameters_for_import",
)
async def get_parameters_for_import(ctx: Ctx, body: s.GetParametersForImportRequest) -> s.ImportParametersResponse:
    out = await ctx.kms.get_parameters_for_import(
        ctx.caller, body.key_id, body.wrapping_algorithm, sequence=body.sequence
    )
    return s.ImportParametersResponse(
        key_id=out.key_id,
        import_token=_b64(out.import_token),
        expiration_time=out.expiration_time,
        public_key=_b64(out.public_key),
    )


@routes.post(
    "/import-key-material",
    op=ops.IMPORT_KEY_MATERIAL,
    request=s.ImportKeyMaterialRequest,
    response=s.EmptyResponse,
    summary="Import wrapped AES-256 material (it enters the HSM by C_UnwrapKey)",
    sdk="import_key_material",
)
async def import_key_material(ctx: Ctx, body: s.ImportKeyMaterialRequest) -> s.EmptyResponse:
    if body.encrypted_privatekey:
        raise KmsError(Err.UNSUPPORTED_ALGORITHM, "Only AES-256 material can be imported (no encrypted_privatekey).")
    await ctx.kms.import_key_material(
        ctx.caller,
        body.key_id,
        body.import_token,
        body.encrypted_key_material,
        body.expiration_time,
        sequence=body.sequence,
    )
    return s.EmptyResponse()


@routes.post(
    "/delete-imported-key-material",
    op=ops.DELETE_IMPORTED_KEY_MATERIAL,
    request=KeyIdRequest,
    response=s.EmptyResponse,
    summary="Delete imported material: the key goes back to pending import",
    sdk="delete_imported_key_material",
)
async def delete_imported_key_material(ctx: Ctx, body: KeyIdRequest) -> s.EmptyResponse:
    await ctx.kms.delete_imported_key_material(ctx.caller, body.key_id, sequence=body.sequence)
    return s.EmptyResponse()
