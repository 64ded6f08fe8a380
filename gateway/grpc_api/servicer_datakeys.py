"""Data keys on gRPC: create (with or without plaintext), encrypt, decrypt, and their batches.

Lengths the request's own bytes give are optional: ``datakey_plain_length`` 0 is ``plain_text``'s
length minus its digest, ``datakey_cipher_length`` 0 is whatever ``cipher_text`` holds (the core
checks any other value). A batch answers a result or an error per item.
"""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.datakeys import DecryptDataKeyItem, EncryptDataKeyItem
from gateway.core.model import Caller, DataKey, DecryptedDataKey, ItemResult
from gateway.grpc_api.convert import item_error
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("data keys")


@rpcs.method("CreateDataKey", ops.CREATE_DATAKEY)
async def create_data_key(ctx: Ctx, r: pb.CreateDataKeyRequest, caller: Caller) -> pb.CreateDataKeyResponse:
    return await _create(ctx, r, caller, with_plaintext=True)


@rpcs.method("CreateDataKeyWithoutPlaintext", ops.CREATE_DATAKEY_WITHOUT_PLAINTEXT)
async def create_data_key_without_plaintext(
    ctx: Ctx, r: pb.CreateDataKeyRequest, caller: Caller
) -> pb.CreateDataKeyResponse:
    return await _create(ctx, r, caller, with_plaintext=False)


async def _create(
    ctx: Ctx, r: pb.CreateDataKeyRequest, caller: Caller, *, with_plaintext: bool
) -> pb.CreateDataKeyResponse:
    dk = await ctx.kms.create_data_key(
        caller,
        r.key_id,
        r.datakey_length or None,
        dict(r.encryption_context),
        additional_authenticated_data=r.additional_authenticated_data or None,
        with_plaintext=with_plaintext,
        sequence=r.sequence or None,
    )
    return pb.CreateDataKeyResponse(key_id=dk.key_id, plain_text=dk.plain_text or b"", cipher_text=dk.cipher_text)


@rpcs.method("EncryptDataKey", ops.ENCRYPT_DATAKEY)
async def encrypt_data_key(ctx: Ctx, r: pb.EncryptDataKeyRequest, caller: Caller) -> pb.EncryptDataKeyResponse:
    [res] = await ctx.kms.encrypt_data_keys(caller, [_encrypt_item(r)])  # its result says the key's length
    dk = res.value_or_raise()
    return pb.EncryptDataKeyResponse(
        key_id=dk.key_id, cipher_text=dk.cipher_text, datakey_length=res.extra["datakey_length"]
    )


@rpcs.method("DecryptDataKey", ops.DECRYPT_DATAKEY)
async def decrypt_data_key(ctx: Ctx, r: pb.DecryptDataKeyRequest, caller: Caller) -> pb.DecryptDataKeyResponse:
    out = await ctx.kms.decrypt_data_key(caller, _decrypt_item(r), r.sequence or None)
    return pb.DecryptDataKeyResponse(
        data_key=out.data_key, datakey_length=out.datakey_length, datakey_digest=out.datakey_digest
    )


# -- batches ------------------------------------------------------------------------------------
@rpcs.method("BatchCreateDataKey", ops.BATCH_CREATE_DATAKEY)
async def batch_create_data_key(
    ctx: Ctx, r: pb.BatchCreateDataKeyRequest, caller: Caller
) -> pb.BatchCreateDataKeyResponse:
    keys = await ctx.kms.create_data_keys(
        caller,
        r.key_id,
        r.count,
        r.datakey_length or None,
        dict(r.encryption_context),
        additional_authenticated_data=r.additional_authenticated_data or None,
        with_plaintext=not r.without_plaintext,
    )
    return pb.BatchCreateDataKeyResponse(
        key_id=r.key_id,
        results=[pb.CreateDataKeyResult(plain_text=k.plain_text or b"", cipher_text=k.cipher_text) for k in keys],
    )


@rpcs.method("BatchEncryptDataKey", ops.BATCH_ENCRYPT_DATAKEY)
async def batch_encrypt_data_key(
    ctx: Ctx, r: pb.BatchEncryptDataKeyRequest, caller: Caller
) -> pb.BatchEncryptDataKeyResponse:
    results = await ctx.kms.encrypt_data_keys(caller, [_encrypt_item(i) for i in r.items])
    return pb.BatchEncryptDataKeyResponse(results=[_encrypt_result(ctx, x) for x in results])


@rpcs.method("BatchDecryptDataKey", ops.BATCH_DECRYPT_DATAKEY)
async def batch_decrypt_data_key(
    ctx: Ctx, r: pb.BatchDecryptDataKeyRequest, caller: Caller
) -> pb.BatchDecryptDataKeyResponse:
    results = await ctx.kms.decrypt_data_keys(caller, [_decrypt_item(i) for i in r.items])
    return pb.BatchDecryptDataKeyResponse(results=[_decrypt_result(ctx, x) for x in results])


def _encrypt_result(ctx: Ctx, res: ItemResult[DataKey]) -> pb.EncryptDataKeyResult:
    if res.error is not None:
        return pb.EncryptDataKeyResult(error=item_error(ctx, res.error))
    dk = res.value_or_raise()
    return pb.EncryptDataKeyResult(
        key_id=dk.key_id, cipher_text=dk.cipher_text, datakey_length=res.extra["datakey_length"]
    )


def _decrypt_result(ctx: Ctx, res: ItemResult[DecryptedDataKey]) -> pb.DecryptDataKeyResult:
    if res.error is not None:
        return pb.DecryptDataKeyResult(error=item_error(ctx, res.error))
    out = res.value_or_raise()
    return pb.DecryptDataKeyResult(
        data_key=out.data_key, datakey_length=out.datakey_length, datakey_digest=out.datakey_digest
    )


def _encrypt_item(r: pb.EncryptDataKeyRequest) -> EncryptDataKeyItem:
    return EncryptDataKeyItem(
        r.key_id,
        r.plain_text,
        r.datakey_plain_length or None,  # 0: from plain_text
        dict(r.encryption_context),
        r.additional_authenticated_data or None,
    )


def _decrypt_item(r: pb.DecryptDataKeyRequest) -> DecryptDataKeyItem:
    return DecryptDataKeyItem(
        r.key_id,
        r.cipher_text,
        r.datakey_cipher_length or None,  # 0: whatever cipher_text holds
        dict(r.encryption_context),
        r.additional_authenticated_data or None,
    )
