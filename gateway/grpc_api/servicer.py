"""KeyManagementService on gRPC: translate messages, call the core.

Every handler goes through ``ServicerBase._handle``, which resolves the caller from the
``x-auth-token`` metadata, times the call, and turns a ``KmsError`` into a status plus the
dialect's ``kms-error-code`` / ``kms-error-msg`` trailing metadata.
"""

from __future__ import annotations

from gateway.core.datakeys import DecryptDataKeyItem, EncryptDataKeyItem
from gateway.core.model import Caller, ItemResult
from gateway.grpc_api.convert import key_info
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.grpc_api.servicer_asymmetric import AsymmetricServicer
from gateway.grpc_api.servicer_base import ServicerBase
from gateway.grpc_api.servicer_lifecycle import LifecycleServicer


class KmsServicer(LifecycleServicer, AsymmetricServicer, ServicerBase, pb_grpc.KeyManagementServiceServicer):
    """Key lifecycle, data keys, data, random, quotas and batches; other groups mix in."""

    # -- key lifecycle ----------------------------------------------------------------
    async def CreateKey(self, request, context):
        async def fn(r: pb.CreateKeyRequest, caller: Caller) -> pb.KeyInfoResponse:
            rec = await self.kms.create_key(
                caller,
                key_alias=r.key_alias,
                key_description=r.key_description,
                key_spec=r.key_spec,
                key_usage=r.key_usage,
                origin=r.origin,
                realm=r.realm,
                sequence=r.sequence or None,
            )
            return pb.KeyInfoResponse(key_info=key_info(rec))

        return await self._handle("create_key", request, context, fn)

    async def DescribeKey(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
            return pb.KeyInfoResponse(key_info=key_info(self.kms.describe_key(caller, r.key_id)))

        return await self._handle("describe_key", request, context, fn)

    async def ListKeys(self, request, context):
        async def fn(r: pb.ListKeysRequest, caller: Caller) -> pb.ListKeysResponse:
            page = self.kms.list_keys(
                caller, limit=r.limit or None, marker=r.marker or None, key_state=r.key_state or None
            )
            return pb.ListKeysResponse(
                keys=[k.key_id for k in page.keys],
                key_details=[key_info(k) for k in page.keys],
                next_marker=page.next_marker,
                truncated=page.truncated,
                total=page.total,
            )

        return await self._handle("list_keys", request, context, fn)

    async def EnableKey(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
            return pb.KeyInfoResponse(key_info=key_info(self.kms.enable_key(caller, r.key_id)))

        return await self._handle("enable_key", request, context, fn)

    async def DisableKey(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyInfoResponse:
            return pb.KeyInfoResponse(key_info=key_info(self.kms.disable_key(caller, r.key_id)))

        return await self._handle("disable_key", request, context, fn)

    async def ScheduleKeyDeletion(self, request, context):
        async def fn(r: pb.ScheduleKeyDeletionRequest, caller: Caller) -> pb.KeyStateResponse:
            rec = self.kms.schedule_key_deletion(caller, r.key_id, r.pending_days)
            return pb.KeyStateResponse(key_id=rec.key_id, key_state=int(rec.key_state))

        return await self._handle("schedule_key_deletion", request, context, fn)

    async def CancelKeyDeletion(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyStateResponse:
            rec = self.kms.cancel_key_deletion(caller, r.key_id)
            return pb.KeyStateResponse(key_id=rec.key_id, key_state=int(rec.key_state))

        return await self._handle("cancel_key_deletion", request, context, fn)

    async def UpdateKeyAlias(self, request, context):
        async def fn(r: pb.UpdateKeyAliasRequest, caller: Caller) -> pb.KeyInfoResponse:
            return pb.KeyInfoResponse(key_info=key_info(self.kms.update_key_alias(caller, r.key_id, r.key_alias)))

        return await self._handle("update_key_alias", request, context, fn)

    async def UpdateKeyDescription(self, request, context):
        async def fn(r: pb.UpdateKeyDescriptionRequest, caller: Caller) -> pb.KeyInfoResponse:
            rec = self.kms.update_key_description(caller, r.key_id, r.key_description)
            return pb.KeyInfoResponse(key_info=key_info(rec))

        return await self._handle("update_key_description", request, context, fn)

    # -- random and data keys ---------------------------------------------------------
    async def GenerateRandom(self, request, context):
        async def fn(r: pb.GenerateRandomRequest, caller: Caller) -> pb.GenerateRandomResponse:
            data = await self.kms.generate_random(caller, r.random_data_length, r.sequence or None)
            return pb.GenerateRandomResponse(random_data=data)

        return await self._handle("gen_random", request, context, fn)

    async def CreateDataKey(self, request, context):
        return await self._create_data_key("create_datakey", request, context, with_plaintext=True)

    async def CreateDataKeyWithoutPlaintext(self, request, context):
        return await self._create_data_key("create_datakey_without_plaintext", request, context, with_plaintext=False)

    async def _create_data_key(self, op: str, request, context, *, with_plaintext: bool):
        async def fn(r: pb.CreateDataKeyRequest, caller: Caller) -> pb.CreateDataKeyResponse:
            dk = await self.kms.create_data_key(
                caller,
                r.key_id,
                r.datakey_length or None,
                dict(r.encryption_context),
                with_plaintext=with_plaintext,
                sequence=r.sequence or None,
            )
            return pb.CreateDataKeyResponse(
                key_id=dk.key_id, plain_text=dk.plain_text or b"", cipher_text=dk.cipher_text
            )

        return await self._handle(op, request, context, fn)

    async def EncryptDataKey(self, request, context):
        async def fn(r: pb.EncryptDataKeyRequest, caller: Caller) -> pb.EncryptDataKeyResponse:
            dk = await self.kms.encrypt_data_key(caller, _encrypt_item(r), r.sequence or None)
            return pb.EncryptDataKeyResponse(
                key_id=dk.key_id, cipher_text=dk.cipher_text, datakey_length=r.datakey_plain_length
            )

        return await self._handle("encrypt_datakey", request, context, fn)

    async def DecryptDataKey(self, request, context):
        async def fn(r: pb.DecryptDataKeyRequest, caller: Caller) -> pb.DecryptDataKeyResponse:
            out = await self.kms.decrypt_data_key(caller, _decrypt_item(r), r.sequence or None)
            return pb.DecryptDataKeyResponse(
                data_key=out.data_key, datakey_length=out.datakey_length, datakey_digest=out.datakey_digest
            )

        return await self._handle("decrypt_datakey", request, context, fn)

    # -- data -------------------------------------------------------------------------
    async def EncryptData(self, request, context):
        async def fn(r: pb.EncryptDataRequest, caller: Caller) -> pb.EncryptDataResponse:
            out = await self.kms.encrypt_data(
                caller,
                r.key_id,
                r.plain_text,
                dict(r.encryption_context),
                encryption_algorithm=r.encryption_algorithm,
                sequence=r.sequence or None,
            )
            return pb.EncryptDataResponse(key_id=out.key_id, cipher_text=out.cipher_text)

        return await self._handle("encrypt_data", request, context, fn)

    async def DecryptData(self, request, context):
        async def fn(r: pb.DecryptDataRequest, caller: Caller) -> pb.DecryptDataResponse:
            out = await self.kms.decrypt_data(
                caller,
                r.cipher_text,
                dict(r.encryption_context),
                key_id=r.key_id or None,
                encryption_algorithm=r.encryption_algorithm,
                sequence=r.sequence or None,
            )
            return pb.DecryptDataResponse(key_id=out.key_id, plain_text=out.plain_text)

        return await self._handle("decrypt_data", request, context, fn)

    # -- counts and quotas ------------------------------------------------------------
    async def GetUserInstances(self, request, context):
        async def fn(r: pb.Empty, caller: Caller) -> pb.GetUserInstancesResponse:
            return pb.GetUserInstancesResponse(instance_num=self.kms.get_user_instances(caller))

        return await self._handle("user_instances", request, context, fn)

    async def GetUserQuotas(self, request, context):
        async def fn(r: pb.Empty, caller: Caller) -> pb.GetUserQuotasResponse:
            return pb.GetUserQuotasResponse(
                resources=[
                    pb.QuotaResource(type=q.type, used=q.used, quota=q.quota) for q in self.kms.get_user_quotas(caller)
                ]
            )

        return await self._handle("user_quotas", request, context, fn)

    # -- batches ----------------------------------------------------------------------
    async def BatchCreateDataKey(self, request, context):
        async def fn(r: pb.BatchCreateDataKeyRequest, caller: Caller) -> pb.BatchCreateDataKeyResponse:
            keys = await self.kms.create_data_keys(
                caller,
                r.key_id,
                r.count,
                r.datakey_length or None,
                dict(r.encryption_context),
                with_plaintext=not r.without_plaintext,
            )
            return pb.BatchCreateDataKeyResponse(
                key_id=r.key_id,
                results=[
                    pb.CreateDataKeyResult(plain_text=k.plain_text or b"", cipher_text=k.cipher_text) for k in keys
                ],
            )

        return await self._handle("batch_create_datakey", request, context, fn)

    async def BatchEncryptDataKey(self, request, context):
        async def fn(r: pb.BatchEncryptDataKeyRequest, caller: Caller) -> pb.BatchEncryptDataKeyResponse:
            results = await self.kms.encrypt_data_keys(caller, [_encrypt_item(i) for i in r.items])
            return pb.BatchEncryptDataKeyResponse(results=[self._encrypt_result(x) for x in results])

        return await self._handle("batch_encrypt_datakey", request, context, fn)

    async def BatchDecryptDataKey(self, request, context):
        async def fn(r: pb.BatchDecryptDataKeyRequest, caller: Caller) -> pb.BatchDecryptDataKeyResponse:
            results = await self.kms.decrypt_data_keys(caller, [_decrypt_item(i) for i in r.items])
            return pb.BatchDecryptDataKeyResponse(results=[self._decrypt_result(x) for x in results])

        return await self._handle("batch_decrypt_datakey", request, context, fn)

    def _encrypt_result(self, res: ItemResult) -> pb.EncryptDataKeyResult:
        if res.error is not None:
            return pb.EncryptDataKeyResult(error=self._item_error(res.error))
        dk = res.value
        return pb.EncryptDataKeyResult(
            key_id=dk.key_id,
            cipher_text=dk.cipher_text,
            datakey_length=res.extra["datakey_length"],  # type: ignore[union-attr]
        )

    def _decrypt_result(self, res: ItemResult) -> pb.DecryptDataKeyResult:
        if res.error is not None:
            return pb.DecryptDataKeyResult(error=self._item_error(res.error))
        out = res.value
        return pb.DecryptDataKeyResult(
            data_key=out.data_key,
            datakey_length=out.datakey_length,
            datakey_digest=out.datakey_digest,  # type: ignore[union-attr]
        )


def _encrypt_item(r: pb.EncryptDataKeyRequest) -> EncryptDataKeyItem:
    return EncryptDataKeyItem(r.key_id, r.plain_text, r.datakey_plain_length, dict(r.encryption_context))


def _decrypt_item(r: pb.DecryptDataKeyRequest) -> DecryptDataKeyItem:
    return DecryptDataKeyItem(r.key_id, r.cipher_text, r.datakey_cipher_length, dict(r.encryption_context))
