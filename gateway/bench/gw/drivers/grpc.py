"""gRPC (``kms.v1.KeyManagementService``) through grpc.aio, calls spread over several connections.

A gateway of several worker processes shares its port with SO_REUSEPORT, which balances
connections, not calls: one connection would load one worker only.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import weakref
from typing import Any

from gateway.bench.gw.drivers.base import DIGEST, Call, CallError, Driver, WrongAnswer, check_signature
from gateway.bench.gw.ops import DATAKEY_BYTES, RAW_UNARY, SIGN_SPECS, Fixture

SERVICE = "/kms.v1.KeyManagementService/"


def _error(exc: Any) -> CallError:
    code = exc.code().name if hasattr(exc, "code") else type(exc).__name__
    kms = dict(exc.trailing_metadata() or ()).get("kms-error-code", "") if hasattr(exc, "trailing_metadata") else ""
    return CallError(f"grpc:{code}" + (f" {kms}" if kms else ""), str(exc.details() if hasattr(exc, "details") else ""))


class GrpcDriver(Driver):
    name = "grpc"

    @classmethod
    def unavailable(cls, endpoint: Any) -> str | None:
        return None if endpoint.grpc_target else "no gRPC target (--target)"

    async def open(self) -> None:
        import grpc

        from gateway.grpc_api.gen.kms.v1 import kms_pb2

        self.pb = kms_pb2
        options = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 64 << 20)]
        target = self.endpoint.grpc_target
        if self.endpoint.ca_file:
            with open(self.endpoint.ca_file, "rb") as f:
                creds = grpc.ssl_channel_credentials(f.read())
            self.channels = [grpc.aio.secure_channel(target, creds, options=options) for _ in range(self.connections)]
        else:
            self.channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(self.connections)]
        self.metadata = (("x-auth-token", self.endpoint.token),)
        self.grpc = grpc

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close()

    def _method(self, name: str, request_type: Any, response_type: Any, *, pinned: bool = False) -> Any:
        """A caller of one RPC. Calls go round the connections in turn; ``pinned``: each task of the
        closed loop (a slot) keeps one connection instead, as a client per connection would. Batch
        rounds use it: a round's calls then wait for one worker only, so with ``--workers N`` a
        worker holding fewer of the connections serves them faster rather than holding every round
        back (round-robin made the rate of two workers swing by a third between runs)."""
        stubs = [
            ch.unary_unary(SERVICE + name, request_serializer=request_type.SerializeToString,
                           response_deserializer=response_type.FromString)
            for ch in self.channels
        ]  # fmt: skip
        turn = itertools.cycle(stubs)
        slots: weakref.WeakKeyDictionary[asyncio.Task[Any], Any] = weakref.WeakKeyDictionary()
        metadata, timeout, rpc_error = self.metadata, self.timeout, self.grpc.RpcError

        def stub() -> Any:
            task = asyncio.current_task() if pinned else None
            if task is None:
                return next(turn)
            chosen = slots.get(task)
            if chosen is None:
                chosen = slots[task] = next(turn)
            return chosen

        async def call(request: Any) -> Any:
            try:
                return await stub()(request, metadata=metadata, timeout=timeout)
            except rpc_error as exc:
                raise _error(exc) from None

        return call

    async def prepare(self, operation: str, fx: Fixture, payload: int, batch: int, verify: bool) -> Call:
        pb = self.pb
        create = self._method("CreateDataKey", pb.CreateDataKeyRequest, pb.CreateDataKeyResponse)
        decrypt = self._method("DecryptDataKey", pb.DecryptDataKeyRequest, pb.DecryptDataKeyResponse)
        if batch:
            return await self._batch(operation, fx, batch, verify)
        if operation == RAW_UNARY:
            return self._raw(fx.raw_method, os.urandom(payload))
        if operation == "create_datakey":
            request = pb.CreateDataKeyRequest(key_id=fx.key_id)

            async def create_one() -> int:
                out = await create(request)
                if verify and (len(out.plain_text) != DATAKEY_BYTES or not out.cipher_text):
                    raise WrongAnswer("CreateDataKey: no 32-byte data key")
                return 1

            return create_one
        if operation in ("decrypt_datakey", "datakey_pair"):
            made = await create(pb.CreateDataKeyRequest(key_id=fx.key_id))
            request = pb.DecryptDataKeyRequest(
                key_id=fx.key_id, cipher_text=made.cipher_text, datakey_cipher_length=DATAKEY_BYTES
            )
            pair = operation == "datakey_pair"

            async def decrypt_one() -> int:
                if pair:
                    fresh = await create(pb.CreateDataKeyRequest(key_id=fx.key_id))
                    req = pb.DecryptDataKeyRequest(key_id=fx.key_id, cipher_text=fresh.cipher_text,
                                                   datakey_cipher_length=DATAKEY_BYTES)  # fmt: skip
                    out = await decrypt(req)
                    expected = fresh.plain_text
                else:
                    out, expected = await decrypt(request), made.plain_text
                if verify and out.data_key != expected:
                    raise WrongAnswer("DecryptDataKey: another data key came back")
                return 1

            return decrypt_one
        if operation in ("encrypt_data", "decrypt_data"):
            return await self._data(operation, fx, payload, verify)
        if operation == "sign":
            return self._sign(fx, verify)
        raise ValueError(f"unknown operation {operation}")

    async def _data(self, operation: str, fx: Fixture, payload: int, verify: bool) -> Call:
        pb = self.pb
        encrypt = self._method("EncryptData", pb.EncryptDataRequest, pb.EncryptDataResponse)
        decrypt = self._method("DecryptData", pb.DecryptDataRequest, pb.DecryptDataResponse)
        plain = os.urandom(payload)
        sealed = (await encrypt(pb.EncryptDataRequest(key_id=fx.key_id, plain_text=plain))).cipher_text
        if operation == "encrypt_data":
            request = pb.EncryptDataRequest(key_id=fx.key_id, plain_text=plain)

            async def encrypt_one() -> int:
                out = await encrypt(request)
                if verify and (len(out.cipher_text) <= payload or plain in out.cipher_text):
                    raise WrongAnswer("EncryptData: the ciphertext cannot hold the payload, or shows it")
                return 1

            return encrypt_one
        request = pb.DecryptDataRequest(cipher_text=sealed)

        async def decrypt_one() -> int:
            out = await decrypt(request)
            if verify and out.plain_text != plain:
                raise WrongAnswer("DecryptData: another plaintext came back")
            return 1

        return decrypt_one

    def _raw(self, method: str, payload: bytes) -> Call:
        stubs = itertools.cycle([ch.unary_unary(method) for ch in self.channels])  # bytes in, bytes out
        metadata, timeout, rpc_error = self.metadata, self.timeout, self.grpc.RpcError

        async def call() -> int:
            try:
                await next(stubs)(payload, metadata=metadata, timeout=timeout)
            except rpc_error as exc:
                raise _error(exc) from None
            return 1

        return call

    def _sign(self, fx: Fixture, verify: bool) -> Call:
        pb = self.pb
        sign = self._method("Sign", pb.SignRequest, pb.SignResponse)
        algorithm = SIGN_SPECS[fx.sign_spec][0]
        request = pb.SignRequest(key_id=fx.sign_key_id, message=DIGEST, signing_algorithm=algorithm)

        async def sign_one() -> int:
            out = await sign(request)
            if verify:
                check_signature(fx.public_key_der, out.signature, DIGEST, algorithm)
            return 1

        return sign_one

    async def _batch(self, operation: str, fx: Fixture, batch: int, verify: bool) -> Call:
        pb = self.pb
        create = self._method(
            "BatchCreateDataKey", pb.BatchCreateDataKeyRequest, pb.BatchCreateDataKeyResponse, pinned=True
        )
        decrypt = self._method(
            "BatchDecryptDataKey", pb.BatchDecryptDataKeyRequest, pb.BatchDecryptDataKeyResponse, pinned=True
        )
        create_request = pb.BatchCreateDataKeyRequest(key_id=fx.key_id, count=batch)

        def opening(results: Any) -> Any:
            req = pb.BatchDecryptDataKeyRequest()
            for r in results:
                req.items.add(key_id=fx.key_id, cipher_text=r.cipher_text, datakey_cipher_length=DATAKEY_BYTES)
            return req

        async def made() -> Any:
            out = await create(create_request)
            if len(out.results) != batch:
                raise WrongAnswer(f"BatchCreateDataKey: asked {batch}, got {len(out.results)}")
            return out.results

        if operation == "create_datakey":

            async def create_batch() -> int:
                results = await made()
                bad = sum(1 for r in results if r.HasField("error") or len(r.plain_text) != DATAKEY_BYTES)
                if verify and bad:
                    raise WrongAnswer(f"BatchCreateDataKey: {bad} items without a data key")
                return batch

            return create_batch
        fixed = await made()
        fixed_request = opening(fixed)
        pair = operation == "datakey_pair"

        async def decrypt_batch() -> int:
            source = await made() if pair else fixed
            out = await decrypt(opening(source) if pair else fixed_request)
            if verify:
                pairs = zip(source, out.results, strict=True)
                bad = sum(1 for a, b in pairs if b.HasField("error") or b.data_key != a.plain_text)
                if bad:
                    raise WrongAnswer(f"BatchDecryptDataKey: {bad} of {batch} items wrong")
            return batch

        return decrypt_batch
