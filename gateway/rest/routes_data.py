"""REST routes of encrypt-data / decrypt-data (docs/api.md)."""

from __future__ import annotations

import base64

from gateway.core import operations as ops
from gateway.rest import schemas_data as s
from gateway.rest.routing import Ctx, RouteGroup

routes = RouteGroup("data", "Small payloads (up to 4096 bytes) sealed directly by a master key.")


@routes.post(
    "/encrypt-data",
    op=ops.ENCRYPT_DATA,
    request=s.EncryptDataRequest,
    response=s.EncryptDataResponse,
    summary="Encrypt up to 4096 bytes of text",
    sdk="encrypt_data",
)
async def encrypt_data(ctx: Ctx, body: s.EncryptDataRequest) -> s.EncryptDataResponse:
    out = await ctx.kms.encrypt_data(
        ctx.caller,
        body.key_id,
        body.plain_text,
        body.encryption_context,
        additional_authenticated_data=body.additional_authenticated_data,
        encryption_algorithm=body.encryption_algorithm or "",
        sequence=body.sequence,
    )
    return s.EncryptDataResponse(key_id=out.key_id, cipher_text=base64.b64encode(out.cipher_text).decode())


@routes.post(
    "/decrypt-data",
    op=ops.DECRYPT_DATA,
    request=s.DecryptDataRequest,
    response=s.DecryptDataResponse,
    summary="Decrypt what encrypt-data produced (the ciphertext names its key)",
    sdk="decrypt_data",
)
async def decrypt_data(ctx: Ctx, body: s.DecryptDataRequest) -> s.DecryptDataResponse:
    out = await ctx.kms.decrypt_data(
        ctx.caller,
        body.cipher_text,
        body.encryption_context,
        additional_authenticated_data=body.additional_authenticated_data,
        key_id=body.key_id,
        encryption_algorithm=body.encryption_algorithm or "",
        sequence=body.sequence,
    )
    return s.DecryptDataResponse(
        key_id=out.key_id,
        plain_text=out.plain_text.decode("utf-8", errors="replace"),
        plain_text_base64=base64.b64encode(out.plain_text).decode(),
    )
