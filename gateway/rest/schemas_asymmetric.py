"""sign / verify / get-publickey and key import on the wire (SDK SignRequestBody, VerifyRequestBody,
OperateKeyRequestBody, GetParametersForImportRequestBody, ImportKeyMaterialRequestBody; docs/api.md).

Binary values are base64: the message and the signature, the import token, the wrapped material and
the wrapping public key (DER SubjectPublicKeyInfo). get-publickey answers PEM, as the provider's
example does. ``expiration_time`` is seconds since the epoch: a JSON number (the SDK models type it
``int``) or a string of digits (the provider's reference types it String); both are accepted.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PlainValidator, WithJsonSchema

from gateway.core.errors import Err
from gateway.rest.schemas_common import B64Bytes, RequestModel, ResponseModel, field
from gateway.rest.schemas_keys import KEY_ID_DOC

SIGNING_DOC = (
    "RSASSA_PSS_SHA_256/384/512, RSASSA_PKCS1_V1_5_SHA_256/384/512 (RSA keys), ECDSA_SHA_256/384/512 "
    "(EC keys), SM2DSA_SM3 (SM2 keys, where the HSM has SM2)."
)
MESSAGE_DOC = "Base64 of the digest (message_type DIGEST, the default) or of the message (RAW), 1 to 4096 bytes."
MESSAGE_TYPE_DOC = "DIGEST (default): message is the hash of the algorithm; RAW: the gateway hashes it."
WRAPPING_DOC = "RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 (RSAES_PKCS1_V1_5 and SM2_ENCRYPT are refused)."


def _epoch_seconds(value: object) -> int | None:
    if value is None or value == "":
        return None
    if type(value) is int and value >= 0:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    raise ValueError("must be seconds since the epoch, a number or a string of digits")


#: Seconds since the epoch as a JSON number or a digit string; null or "" mean absent.
EpochSeconds = Annotated[
    int | None,
    PlainValidator(_epoch_seconds),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]{0,12}$"}, {"type": "null"}]}
    ),
]


# -- requests ---------------------------------------------------------------------------------
class SignRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    message: B64Bytes = field(Err.INVALID_PARAMETER, MESSAGE_DOC)
    signing_algorithm: str = field(Err.UNSUPPORTED_ALGORITHM, SIGNING_DOC)
    message_type: str | None = field(Err.INVALID_PARAMETER, MESSAGE_TYPE_DOC, None)


class VerifyRequest(SignRequest):
    signature: B64Bytes = field(Err.INVALID_PARAMETER, "Base64 signature, as sign returned it.")


class GetParametersForImportRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    wrapping_algorithm: str = field(Err.UNSUPPORTED_ALGORITHM, WRAPPING_DOC)


class ImportKeyMaterialRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    import_token: B64Bytes = field(Err.IMPORT_TOKEN_INVALID, "Base64 import token from get-parameters-for-import.")
    encrypted_key_material: B64Bytes = field(
        Err.INVALID_PARAMETER, "Base64 RSAES-OAEP encryption of the 32-byte AES key under the wrapping public key."
    )
    encrypted_privatekey: str | None = field(
        Err.UNSUPPORTED_ALGORITHM, "Importing asymmetric private keys is not supported: leave it out.", None
    )
    expiration_time: EpochSeconds = field(
        Err.INVALID_PARAMETER, "Seconds since the epoch after which the material is deleted; absent: never.", None
    )


# -- responses --------------------------------------------------------------------------------
class SignResponse(ResponseModel):
    key_id: str
    signature: str = Field(description="Base64 signature: PKCS#1 octets for RSA, DER (r, s) for ECDSA and SM2.")


class VerifyResponse(ResponseModel):
    key_id: str
    signature_valid: str = Field(description='"true" or "false" (a string, as the SDK model has it).')


class PublicKeyResponse(ResponseModel):
    key_id: str
    public_key: str = Field(description="PEM SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----).")


class ImportParametersResponse(ResponseModel):
    key_id: str
    import_token: str = Field(description="Base64 import token, valid 24 hours, bound to this key.")
    expiration_time: int = Field(description="Seconds since the epoch when the parameters expire.")
    public_key: str = Field(description="Base64 DER SubjectPublicKeyInfo of the RSA-2048 wrapping key.")


class EmptyResponse(ResponseModel):
    """import-key-material and delete-imported-key-material answer an empty object."""
