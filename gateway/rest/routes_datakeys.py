"""REST routes of data keys (docs/api.md) and their batches (a gateway extension)."""

from __future__ import annotations

import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway.core import operations as ops
from gateway.core.datakeys import DecryptDataKeyItem, EncryptDataKeyItem
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller, ItemResult
from gateway.rest import schemas_datakeys as s
from gateway.rest.routing import Ctx, RouteGroup
from gateway.rest.schemas_common import ErrorBody, hex_out

I = TypeVar("I")  # noqa: E741 - a request item
T = TypeVar("T")
R = TypeVar("R")

routes = RouteGroup("data keys", "Data keys from the token's RNG, sealed by a master key inside the token.")


@routes.post(
    "/create-datakey",
    op=ops.CREATE_DATAKEY,
    request=s.CreateDataKeyRequest,
    response=s.CreateDataKeyResponse,
    summary="Create a data key: plaintext and ciphertext",
    sdk="create_datakey",
)
async def create_datakey(ctx: Ctx, body: s.CreateDataKeyRequest) -> s.CreateDataKeyResponse:
    dk = await ctx.kms.create_data_key(
        ctx.caller,
        body.key_id,
        body.bits(),
        body.encryption_context,
        additional_authenticated_data=body.additional_authenticated_data,
        sequence=body.sequence,
    )
    return s.CreateDataKeyResponse(
        key_id=dk.key_id, plain_text=hex_out(dk.plain_text or b""), cipher_text=hex_out(dk.cipher_text)
    )


@routes.post(
    "/create-datakey-without-plaintext",
    op=ops.CREATE_DATAKEY_WITHOUT_PLAINTEXT,
    request=s.CreateDataKeyWithoutPlaintextRequest,
    response=s.CreateDataKeyWithoutPlaintextResponse,
    summary="Create a data key: ciphertext only",
    sdk="create_datakey_without_plaintext",
)
async def create_datakey_without_plaintext(
    ctx: Ctx, body: s.CreateDataKeyWithoutPlaintextRequest
) -> s.CreateDataKeyWithoutPlaintextResponse:
    dk = await ctx.kms.create_data_key(
        ctx.caller,
        body.key_id,
        body.bits(),
        body.encryption_context,
        additional_authenticated_data=body.additional_authenticated_data,
        with_plaintext=False,
        sequence=body.sequence,
    )
    return s.CreateDataKeyWithoutPlaintextResponse(key_id=dk.key_id, cipher_text=hex_out(dk.cipher_text))


@routes.post(
    "/encrypt-datakey",
    op=ops.ENCRYPT_DATAKEY,
    request=s.EncryptDataKeyRequest,
    response=s.EncryptDataKeyResponse,
    summary="Encrypt a data key under a master key",
    sdk="encrypt_datakey",
)
async def encrypt_datakey(ctx: Ctx, body: s.EncryptDataKeyRequest) -> s.EncryptDataKeyResponse:
    item = EncryptDataKeyItem(
        body.key_id,
        body.plain_text,
        body.datakey_plain_length,
        body.encryption_context,
        body.additional_authenticated_data,
    )
    dk = await ctx.kms.encrypt_data_key(ctx.caller, item, body.sequence)
    return s.EncryptDataKeyResponse(
        key_id=dk.key_id, cipher_text=hex_out(dk.cipher_text), datakey_length=str(body.datakey_plain_length)
    )


@routes.post(
    "/decrypt-datakey",
    op=ops.DECRYPT_DATAKEY,
    request=s.DecryptDataKeyRequest,
    response=s.DecryptDataKeyResponse,
    summary="Decrypt a data key",
    sdk="decrypt_datakey",
)
async def decrypt_datakey(ctx: Ctx, body: s.DecryptDataKeyRequest) -> s.DecryptDataKeyResponse:
    item = DecryptDataKeyItem(
        body.key_id,
        body.cipher_text,
        body.datakey_cipher_length,
        body.encryption_context,
        body.additional_authenticated_data,
    )
    out = await ctx.kms.decrypt_data_key(ctx.caller, item, body.sequence)
    digest = hex_out(out.datakey_digest)
    return s.DecryptDataKeyResponse(
        data_key=hex_out(out.data_key),
        datakey_length=str(out.datakey_length),
        datakey_digest=digest,
        datakey_dgst=digest,
    )


# -- batches (gateway extension) ----------------------------------------------------------------
@routes.post(
    "/batch-create-datakey",
    op=ops.BATCH_CREATE_DATAKEY,
    request=s.BatchCreateDataKeyRequest,
    response=s.BatchCreateDataKeyResponse,
    summary="Create up to 1000 data keys under one master key in one call",
    extension=True,
)
async def batch_create_datakey(ctx: Ctx, body: s.BatchCreateDataKeyRequest) -> s.BatchCreateDataKeyResponse:
    """Gateway extension: one random draw and one HSM hand-off for the whole batch."""
    keys = await ctx.kms.create_data_keys(
        ctx.caller,
        body.key_id,
        body.count,
        body.datakey_length,
        body.encryption_context,
        additional_authenticated_data=body.additional_authenticated_data,
        with_plaintext=body.with_plaintext,
    )
    return s.BatchCreateDataKeyResponse(
        key_id=body.key_id,
        results=[
            s.CreatedDataKey(
                plain_text=None if k.plain_text is None else hex_out(k.plain_text), cipher_text=hex_out(k.cipher_text)
            )
            for k in keys
        ],
    )


@routes.post(
    "/batch-encrypt-datakey",
    op=ops.BATCH_ENCRYPT_DATAKEY,
    request=s.BatchEncryptDataKeyRequest,
    response=s.BatchEncryptDataKeyResponse,
    summary="Encrypt many data keys; a result or an error per item",
    extension=True,
)
async def batch_encrypt_datakey(ctx: Ctx, body: s.BatchEncryptDataKeyRequest) -> s.BatchEncryptDataKeyResponse:
    """Gateway extension: each item is an encrypt-datakey body; one bad item is that item's error."""

    def decode(it: s.EncryptDataKeyItem) -> EncryptDataKeyItem:
        plain = _unhex(it.plain_text, Err.INVALID_PLAIN_TEXT)
        return EncryptDataKeyItem(
            it.key_id, plain, it.datakey_plain_length, it.encryption_context, it.additional_authenticated_data
        )

    results = await _per_item(ctx, body.items, decode, ctx.kms.encrypt_data_keys, _encrypt_result)
    return s.BatchEncryptDataKeyResponse(results=results)


@routes.post(
    "/batch-decrypt-datakey",
    op=ops.BATCH_DECRYPT_DATAKEY,
    request=s.BatchDecryptDataKeyRequest,
    response=s.BatchDecryptDataKeyResponse,
    summary="Decrypt many data keys; a result or an error per item",
    extension=True,
)
async def batch_decrypt_datakey(ctx: Ctx, body: s.BatchDecryptDataKeyRequest) -> s.BatchDecryptDataKeyResponse:
    """Gateway extension: each item is a decrypt-datakey body; one bad item is that item's error."""

    def decode(it: s.DecryptDataKeyItem) -> DecryptDataKeyItem:
        blob = _unhex(it.cipher_text, Err.INVALID_CIPHER_TEXT)
        return DecryptDataKeyItem(
            it.key_id, blob, it.datakey_cipher_length, it.encryption_context, it.additional_authenticated_data
        )

    results = await _per_item(ctx, body.items, decode, ctx.kms.decrypt_data_keys, _decrypt_result)
    return s.BatchDecryptDataKeyResponse(results=results)


async def _per_item(
    ctx: Ctx,
    raw: Sequence[I],
    decode: Callable[[I], T],
    run: Callable[[Caller, list[T]], Awaitable[list[ItemResult]]],
    render: Callable[[Ctx, ItemResult], R],
) -> list[R]:
    """A result per item in request order: an item that does not decode is its own error, the
    rest go to the core in one call (one HSM hand-off)."""
    results: list[R | None] = [None] * len(raw)
    todo: list[tuple[int, T]] = []
    for i, item in enumerate(raw):
        try:
            todo.append((i, decode(item)))
        except KmsError as exc:
            results[i] = render(ctx, ItemResult(error=exc))
    done = await run(ctx.caller, [item for _, item in todo])
    for (i, _), res in zip(todo, done, strict=True):
        results[i] = render(ctx, res)
    return results  # type: ignore[return-value]  # every slot is filled above


def _unhex(text: str, err: Err) -> bytes:
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise KmsError(
            err,
            f"Invalid {'plain_text' if err is Err.INVALID_PLAIN_TEXT else 'cipher_text'}: "
            "must be a hex string (two digits per byte).",
        ) from None


def _error(ctx: Ctx, exc: object) -> ErrorBody:
    assert isinstance(exc, KmsError)
    wire = ctx.dialect.render(exc)
    return ErrorBody(error_code=wire.code, error_msg=wire.message)


def _encrypt_result(ctx: Ctx, res: ItemResult) -> s.EncryptDataKeyResult:
    if res.error is not None:
        return s.EncryptDataKeyResult(error=_error(ctx, res.error))
    dk = res.value
    return s.EncryptDataKeyResult(
        key_id=dk.key_id,  # type: ignore[union-attr]
        cipher_text=hex_out(dk.cipher_text),  # type: ignore[union-attr]
        datakey_length=str(res.extra["datakey_length"]),
    )


def _decrypt_result(ctx: Ctx, res: ItemResult) -> s.DecryptDataKeyResult:
    if res.error is not None:
        return s.DecryptDataKeyResult(error=_error(ctx, res.error))
    out = res.value
    digest = hex_out(out.datakey_digest)  # type: ignore[union-attr]
    return s.DecryptDataKeyResult(
        data_key=hex_out(out.data_key),  # type: ignore[union-attr]
        datakey_length=str(out.datakey_length),  # type: ignore[union-attr]
        datakey_digest=digest,
        datakey_dgst=digest,
    )
