"""encrypt-data / decrypt-data on the wire (docs/api.md; SDK EncryptDataRequestBody ...).

``plain_text`` is raw text (its UTF-8 bytes, 1 to 4096, are encrypted); the ciphertext is base64.
decrypt-data answers the text and, as the SDK model has it, ``plain_text_base64`` (the exact bytes).
"""

from __future__ import annotations

from pydantic import Field

from gateway.core.errors import Err
from gateway.rest.schemas_common import B64Bytes, ResponseModel, TextBytes, field
from gateway.rest.schemas_datakeys import ContextRequest
from gateway.rest.schemas_keys import KEY_ID_DOC

ALGORITHM_DOC = (
    "SYMMETRIC_DEFAULT (default) for AES keys; RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 for RSA ENCRYPT_DECRYPT "
    "keys (the ciphertext is then the raw OAEP block, and decrypt-data needs key_id)."
)


class EncryptDataRequest(ContextRequest):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    plain_text: TextBytes = field(Err.INVALID_PARAMETER, "Text to encrypt, 1 to 4096 bytes as UTF-8.")
    encryption_algorithm: str | None = field(Err.UNSUPPORTED_ALGORITHM, ALGORITHM_DOC, None)


class DecryptDataRequest(ContextRequest):
    cipher_text: B64Bytes = field(Err.INVALID_PARAMETER, "Base64 ciphertext from encrypt-data.")
    key_id: str | None = field(
        Err.INVALID_KEY_ID, "Optional: the ciphertext names its key; if given, must match.", None
    )
    encryption_algorithm: str | None = field(Err.UNSUPPORTED_ALGORITHM, ALGORITHM_DOC, None)


class EncryptDataResponse(ResponseModel):
    key_id: str
    cipher_text: str = Field(description="Base64 ciphertext (self-describing: key, version, IV, tag).")


class DecryptDataResponse(ResponseModel):
    key_id: str
    plain_text: str = Field(description="The plaintext as text (bytes that are not UTF-8 become U+FFFD).")
    plain_text_base64: str = Field(description="The exact plaintext bytes, base64.")
