"""Data keys on the wire: create (with or without plaintext), encrypt, decrypt, and their batches.

The provider's KMS API reference (docs/api.md) and the SDK models. Data keys and their ciphertexts are hex; lengths are
digit strings (``datakey_length`` in bits on create, ``datakey_plain_length`` and
``datakey_cipher_length`` in bytes of the plaintext key). The caller's context is either the
reference's ``encryption_context`` (object) or the newer SDK's ``additional_authenticated_data``
(string); the core binds either to the ciphertext. decrypt-datakey answers the digest twice:
``datakey_digest`` (the reference's name) and ``datakey_dgst`` (the one the SDK reads).

The batch operations are a gateway extension (the core's batch calls, as on gRPC): one request,
one result per item, and a bad item is that item's error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.core.errors import Err
from gateway.rest.schemas_common import (
    Context,
    ErrorBody,
    HexBytes,
    NumStr,
    OptNumStr,
    RequestModel,
    ResponseModel,
    field,
)
from gateway.rest.schemas_keys import KEY_ID_DOC

CONTEXT_DOC = (
    "String-to-string pairs bound to the ciphertext (at most 8192 bytes serialized); decryption must "
    'pass the same, e.g. {"Key1": "Value1"}.'
)
AAD_DOC = "Additional authenticated data (the newer SDK's spelling of a context); decryption must pass the same."
KEY_SPEC_BITS = {"AES_256": 256, "AES_128": 128}


class ContextRequest(RequestModel):
    encryption_context: Context | None = field(Err.INVALID_ENCRYPTION_CONTEXT, CONTEXT_DOC, None)
    additional_authenticated_data: str | None = field(Err.INVALID_ENCRYPTION_CONTEXT, AAD_DOC, None)


# -- requests -----------------------------------------------------------------------------------
class CreateDataKeyRequest(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    datakey_length: OptNumStr = field(
        Err.INVALID_DATAKEY_LENGTH, 'Bits, a multiple of 8 from "8" to "8192"; wins over key_spec.', None
    )
    key_spec: Literal["AES_256", "AES_128"] | None = field(
        Err.UNSUPPORTED_ALGORITHM, "AES_256 (256 bits) or AES_128 (128 bits) when datakey_length is absent.", None
    )

    def bits(self) -> int | None:
        if self.datakey_length is not None:
            return self.datakey_length
        return KEY_SPEC_BITS[self.key_spec] if self.key_spec else None


class CreateDataKeyWithoutPlaintextRequest(CreateDataKeyRequest):
    datakey_length: OptNumStr = field(
        Err.INVALID_DATAKEY_LENGTH_NO_PLAINTEXT, 'Bits, a multiple of 8 from "8" to "8192"; wins over key_spec.', None
    )


class EncryptDataKeyRequest(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    plain_text: HexBytes = field(Err.INVALID_PLAIN_TEXT, "Hex of the data key followed by its SHA-256 (32 bytes).")
    datakey_plain_length: NumStr = field(Err.INVALID_PLAIN_TEXT_LENGTH, 'Bytes of the data key alone, "1" to "1024".')


class DecryptDataKeyRequest(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    cipher_text: HexBytes = field(Err.INVALID_CIPHER_TEXT, "Hex ciphertext from create-datakey or encrypt-datakey.")
    datakey_cipher_length: NumStr = field(
        Err.INVALID_CIPHER_TEXT_LENGTH, 'Bytes of the plaintext data key, "1" to "1024".'
    )


# -- responses ----------------------------------------------------------------------------------
class CreateDataKeyResponse(ResponseModel):
    key_id: str
    plain_text: str = Field(description="Hex of the data key.")
    cipher_text: str = Field(description="Hex of its ciphertext.")


class CreateDataKeyWithoutPlaintextResponse(ResponseModel):
    key_id: str
    cipher_text: str = Field(description="Hex of the data key's ciphertext.")


class EncryptDataKeyResponse(ResponseModel):
    key_id: str
    cipher_text: str = Field(description="Hex.")
    datakey_length: str = Field(description="Bytes of the data key.")


class DecryptDataKeyResponse(ResponseModel):
    data_key: str = Field(description="Hex of the data key.")
    datakey_length: str = Field(description="Bytes of the data key.")
    datakey_digest: str = Field(description="Hex SHA-256 of the data key (the API reference's name).")
    datakey_dgst: str = Field(description="The same digest under the name the SDK reads.")


# -- batches (gateway extension) ----------------------------------------------------------------
class BatchCreateDataKeyRequest(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    count: NumStr = field(Err.INVALID_PARAMETER, 'Data keys to create, "1" to "1000".')
    datakey_length: OptNumStr = field(Err.INVALID_DATAKEY_LENGTH, 'Bits, a multiple of 8 from "8" to "8192".', None)
    with_plaintext: bool = field(Err.INVALID_PARAMETER, "false: ciphertexts only.", True)


class CreatedDataKey(ResponseModel):
    plain_text: str | None = Field(None, description="Hex; absent when with_plaintext is false.")
    cipher_text: str


class BatchCreateDataKeyResponse(ResponseModel):
    key_id: str
    results: list[CreatedDataKey]


class EncryptDataKeyItem(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    plain_text: str = field(Err.INVALID_PLAIN_TEXT, "Hex of the data key followed by its SHA-256.")
    datakey_plain_length: NumStr = field(Err.INVALID_PLAIN_TEXT_LENGTH, 'Bytes of the data key, "1" to "1024".')


class BatchEncryptDataKeyRequest(RequestModel):
    items: list[EncryptDataKeyItem] = field(Err.INVALID_PARAMETER, "Data keys to encrypt (a hex error is per item).")


class EncryptDataKeyResult(ResponseModel):
    key_id: str | None = None
    cipher_text: str | None = None
    datakey_length: str | None = None
    error: ErrorBody | None = None


class BatchEncryptDataKeyResponse(ResponseModel):
    results: list[EncryptDataKeyResult] = Field(description="One per item, in order: a value or its error.")


class DecryptDataKeyItem(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    cipher_text: str = field(Err.INVALID_CIPHER_TEXT, "Hex ciphertext.")
    datakey_cipher_length: NumStr = field(Err.INVALID_CIPHER_TEXT_LENGTH, 'Bytes of the data key, "1" to "1024".')


class BatchDecryptDataKeyRequest(RequestModel):
    items: list[DecryptDataKeyItem] = field(Err.INVALID_PARAMETER, "Data keys to decrypt (a hex error is per item).")


class DecryptDataKeyResult(ResponseModel):
    data_key: str | None = None
    datakey_length: str | None = None
    datakey_digest: str | None = None
    datakey_dgst: str | None = None
    error: ErrorBody | None = None


class BatchDecryptDataKeyResponse(ResponseModel):
    results: list[DecryptDataKeyResult] = Field(description="One per item, in order: a value or its error.")
