"""A synchronous client of the gateway's gRPC API (``kms.v1.KeyManagementService``).

Methods return the generated protobuf messages (``gateway.grpc_api.gen.kms.v1.kms_pb2``): the
response message, or the one message it wraps (``KeyInfo`` for the key calls). Failures raise
:class:`KmsClientError`. Any other RPC of the service is reachable through :meth:`KmsClient.call`
with the same retries and errors.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import grpc

from gateway.client.channel import open_channel, read_token_file
from gateway.client.errors import KmsClientError
from gateway.client.retry import Backoff, retryable
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc

Context = Mapping[str, str] | None
PathLike = str | os.PathLike


class KmsClient:
    """One channel to one gateway, the caller's token, per-attempt timeout and retry policy.

    ``token`` or ``token_file`` (a file readable by its owner only) authenticates every call
    (metadata ``x-auth-token``). Any of ``ca_file``/``cert_file``/``key_file`` switches to TLS
    (``cert_file`` + ``key_file``: mutual TLS). ``timeout`` bounds each attempt in seconds;
    ``retries`` is how many more attempts a retryable failure gets (see ``gateway.client.retry``).
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        token_file: PathLike | None = None,
        ca_file: PathLike | None = None,
        cert_file: PathLike | None = None,
        key_file: PathLike | None = None,
        server_name: str | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen dataclass, safe as a default
        channel_options: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        if token and token_file:
            raise ValueError("give token or token_file, not both")
        if token_file:
            token = read_token_file(token_file)
        self._metadata: tuple[tuple[str, str], ...] = (("x-auth-token", token),) if token else ()
        self._channel = open_channel(
            target,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            server_name=server_name,
            options=channel_options,
        )
        self._stub = pb_grpc.KeyManagementServiceStub(self._channel)
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.retried = 0  # attempts repeated so far (all calls): for logs and tests

    def __enter__(self) -> KmsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KmsClient({self.target!r})"  # never the token

    def close(self) -> None:
        self._channel.close()

    def call(self, method: str, request: Any, *, timeout: float | None = None) -> Any:
        """Call RPC ``method`` (its proto name, e.g. ``"RotateOnDemand"``) with retries; the response."""
        rpc = getattr(self._stub, method)
        attempt = 0
        while True:
            try:
                return rpc(request, metadata=self._metadata, timeout=timeout or self.timeout)
            except grpc.RpcError as err:
                status = err.code() if callable(getattr(err, "code", None)) else None
                if attempt >= self.retries or not retryable(method, status):
                    raise KmsClientError.from_rpc_error(err) from err
            time.sleep(self.backoff.delay(attempt))
            attempt += 1
            self.retried += 1

    # -- key lifecycle ----------------------------------------------------------------
    def create_key(
        self,
        alias: str,
        *,
        description: str = "",
        key_spec: str = "",
        key_usage: str = "",
        origin: str = "",
        realm: str = "",
    ) -> pb.KeyInfo:
        """A new master key (default AES_256, ENCRYPT_DECRYPT, generated in the token)."""
        req = pb.CreateKeyRequest(
            key_alias=alias,
            key_description=description,
            key_spec=key_spec,
            key_usage=key_usage,
            origin=origin,
            realm=realm,
        )
        return self.call("CreateKey", req).key_info

    def describe_key(self, key_id: str) -> pb.KeyInfo:
        return self.call("DescribeKey", pb.KeyIdRequest(key_id=key_id)).key_info

    def list_keys(self, *, limit: int = 0, marker: str = "", key_state: int = 0) -> pb.ListKeysResponse:
        """One page (``limit`` 0: the gateway's default); follow ``next_marker`` while ``truncated``."""
        return self.call("ListKeys", pb.ListKeysRequest(limit=limit, marker=marker, key_state=key_state))

    def iter_keys(self, *, key_state: int = 0, page_size: int = 100) -> Iterator[pb.KeyInfo]:
        """Every key of the caller's project, page after page."""
        marker = ""
        while True:
            page = self.list_keys(limit=page_size, marker=marker, key_state=key_state)
            yield from page.key_details
            if not page.truncated or not page.next_marker:
                return
            marker = page.next_marker

    def enable_key(self, key_id: str) -> pb.KeyInfo:
        return self.call("EnableKey", pb.KeyIdRequest(key_id=key_id)).key_info

    def disable_key(self, key_id: str) -> pb.KeyInfo:
        return self.call("DisableKey", pb.KeyIdRequest(key_id=key_id)).key_info

    def schedule_key_deletion(self, key_id: str, pending_days: int) -> pb.KeyStateResponse:
        """Delete the key after ``pending_days`` (7..1096); until then it can be cancelled."""
        req = pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=pending_days)
        return self.call("ScheduleKeyDeletion", req)

    def cancel_key_deletion(self, key_id: str) -> pb.KeyStateResponse:
        """Cancel a scheduled deletion; the key comes back disabled."""
        return self.call("CancelKeyDeletion", pb.KeyIdRequest(key_id=key_id))

    # -- random, data keys, data ------------------------------------------------------
    def generate_random(self, bits: int) -> pb.GenerateRandomResponse:
        """``bits`` (8..8192, a multiple of 8) random bits from the token's RNG, in ``random_data``."""
        return self.call("GenerateRandom", pb.GenerateRandomRequest(random_data_length=bits))

    def create_data_key(self, key_id: str, *, bits: int = 256, context: Context = None) -> pb.CreateDataKeyResponse:
        """A data key: ``plain_text`` to use now and forget, ``cipher_text`` to store with the data."""
        return self.call("CreateDataKey", _datakey_request(key_id, bits, context))

    def create_data_key_without_plaintext(
        self, key_id: str, *, bits: int = 256, context: Context = None
    ) -> pb.CreateDataKeyResponse:
        """A data key as ``cipher_text`` only (decrypt it later, where it is needed)."""
        return self.call("CreateDataKeyWithoutPlaintext", _datakey_request(key_id, bits, context))

    def encrypt_data_key(self, key_id: str, data_key: bytes, *, context: Context = None) -> pb.EncryptDataKeyResponse:
        """Wrap a data key of your own (1..1024 bytes) under the master key."""
        return self.call("EncryptDataKey", _encrypt_item(key_id, data_key, context))

    def decrypt_data_key(
        self, key_id: str, cipher_text: bytes, *, datakey_length: int = 32, context: Context = None
    ) -> pb.DecryptDataKeyResponse:
        """Unwrap a data key; ``datakey_length`` is its length in bytes (32 for the default 256 bits)."""
        return self.call("DecryptDataKey", _decrypt_item(key_id, cipher_text, datakey_length, context))

    def encrypt_data(self, key_id: str, plain_text: bytes, *, context: Context = None) -> pb.EncryptDataResponse:
        """Encrypt up to 4096 bytes directly under the master key."""
        req = pb.EncryptDataRequest(key_id=key_id, plain_text=plain_text, encryption_context=dict(context or {}))
        return self.call("EncryptData", req)

    def decrypt_data(self, cipher_text: bytes, *, context: Context = None, key_id: str = "") -> pb.DecryptDataResponse:
        """Decrypt what :meth:`encrypt_data` returned (the ciphertext names its key; ``key_id`` checks it)."""
        req = pb.DecryptDataRequest(cipher_text=cipher_text, encryption_context=dict(context or {}), key_id=key_id)
        return self.call("DecryptData", req)

    # -- batches: one result per item, an item's failure is its own ``error`` ----------
    def batch_create_data_keys(
        self, key_id: str, count: int, *, bits: int = 256, context: Context = None, without_plaintext: bool = False
    ) -> pb.BatchCreateDataKeyResponse:
        """``count`` (1..1000) data keys in one message; ``results[i]`` has ``plain_text``/``cipher_text``."""
        req = pb.BatchCreateDataKeyRequest(
            key_id=key_id,
            count=count,
            datakey_length=bits,
            encryption_context=dict(context or {}),
            without_plaintext=without_plaintext,
        )
        return self.call("BatchCreateDataKey", req)

    def batch_encrypt_data_keys(
        self, key_id: str, data_keys: Iterable[bytes], *, context: Context = None
    ) -> pb.BatchEncryptDataKeyResponse:
        """Wrap many data keys; ``results[i].HasField("error")`` tells a failed item."""
        items = [_encrypt_item(key_id, dk, context) for dk in data_keys]
        return self.call("BatchEncryptDataKey", pb.BatchEncryptDataKeyRequest(items=items))

    def batch_decrypt_data_keys(
        self, key_id: str, cipher_texts: Iterable[bytes], *, datakey_length: int = 32, context: Context = None
    ) -> pb.BatchDecryptDataKeyResponse:
        """Unwrap many data keys; ``results[i].HasField("error")`` tells a failed item."""
        items = [_decrypt_item(key_id, ct, datakey_length, context) for ct in cipher_texts]
        return self.call("BatchDecryptDataKey", pb.BatchDecryptDataKeyRequest(items=items))

    # -- counts -----------------------------------------------------------------------
    def get_user_instances(self) -> int:
        return self.call("GetUserInstances", pb.Empty()).instance_num

    def get_user_quotas(self) -> pb.GetUserQuotasResponse:
        return self.call("GetUserQuotas", pb.Empty())


def _datakey_request(key_id: str, bits: int, context: Context) -> pb.CreateDataKeyRequest:
    return pb.CreateDataKeyRequest(key_id=key_id, datakey_length=bits, encryption_context=dict(context or {}))


def _encrypt_item(key_id: str, data_key: bytes, context: Context) -> pb.EncryptDataKeyRequest:
    # The wire format of encrypt-datakey: the key followed by its SHA-256, and the key's length.
    return pb.EncryptDataKeyRequest(
        key_id=key_id,
        plain_text=bytes(data_key) + hashlib.sha256(data_key).digest(),
        datakey_plain_length=len(data_key),
        encryption_context=dict(context or {}),
    )


def _decrypt_item(key_id: str, cipher_text: bytes, datakey_length: int, context: Context) -> pb.DecryptDataKeyRequest:
    return pb.DecryptDataKeyRequest(
        key_id=key_id,
        cipher_text=cipher_text,
        datakey_cipher_length=datakey_length,
        encryption_context=dict(context or {}),
    )
