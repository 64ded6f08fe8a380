"""XKS request bodies in, response bodies out: JSON, standard padded base64, compact on one line.

Decoding is the order of checks' step 5 (after the signature): a body that is not a JSON object,
a ``requestMetadata`` without ``kmsRequestId`` and ``kmsOperation`` strings (and
``awsPrincipalArn`` for key operations), a missing or non-base64 field, an ``encryptionAlgorithm``
other than ``AES_GCM`` or a CDIV algorithm other than ``SHA_256`` is ValidationException; an IV of
other than 12 or 16 bytes, a tag of other than 16 or metadata over 20 bytes is
InvalidCiphertextException. Unknown fields are ignored everywhere: AWS adds fields over time.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from gateway.core import operations as ops
from gateway.core.errors import Err
from gateway.core.operations import Operation
from gateway.core.xks.crypto import XksCiphertext, XksKeyMetadata
from gateway.core.xks.errors import XksError, XksName
from gateway.core.xks.health import HealthReport

MAX_METADATA = 20
IV_LENGTHS = (12, 16)
TAG_LENGTH = 16
MAX_LOGGED = 2048  # the specification's longest ARN


@dataclass(frozen=True)
class RequestMetadata:
    kms_request_id: str
    kms_operation: str
    aws_principal_arn: str = ""
    kms_key_arn: str = ""

    def log_fields(self) -> dict[str, str]:
        """What the request log line records (identifiers only: never a body field)."""
        return {
            "kmsRequestId": self.kms_request_id[:MAX_LOGGED],
            "kmsOperation": self.kms_operation[:MAX_LOGGED],
            "awsPrincipalArn": self.aws_principal_arn[:MAX_LOGGED],
            "kmsKeyArn": self.kms_key_arn[:MAX_LOGGED],
        }


@dataclass(frozen=True)
class XksRequest:
    meta: RequestMetadata
    plaintext: bytes = b""
    ciphertext: bytes = b""
    iv: bytes = b""
    tag: bytes = b""
    aad: bytes = b""
    metadata: bytes | None = None
    integrity: bool = False  # encrypt: ciphertextDataIntegrityValueAlgorithm SHA_256 was asked for


def _invalid(detail: str) -> XksError:
    return XksError(XksName.VALIDATION, Err.INVALID_PARAMETER, detail)


def _bad_ciphertext(detail: str) -> XksError:
    return XksError(XksName.INVALID_CIPHERTEXT, Err.INVALID_CIPHER_TEXT, detail)


def _text(obj: dict[str, Any], name: str, where: str, *, required: bool = True) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{where}{name} must be a string.")
    return value


def _b64(obj: dict[str, Any], name: str, *, required: bool = True) -> bytes | None:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a base64 string.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{name} is not standard padded base64.") from None


def decode(operation: Operation, body: bytes) -> XksRequest:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The body is not JSON.") from None
    if not isinstance(obj, dict):
        raise _invalid("The body is not a JSON object.")
    raw_meta = obj.get("requestMetadata")
    if not isinstance(raw_meta, dict):
        raise _invalid("requestMetadata is missing or not an object.")
    where = "requestMetadata."
    key_op = operation is not ops.XKS_GET_HEALTH_STATUS
    meta = RequestMetadata(
        _text(raw_meta, "kmsRequestId", where),
        _text(raw_meta, "kmsOperation", where),
        _text(raw_meta, "awsPrincipalArn", where, required=key_op),
        _text(raw_meta, "kmsKeyArn", where, required=False),
    )
    if operation is ops.XKS_ENCRYPT:
        _algorithm(obj)
        plaintext = _b64(obj, "plaintext") or b""
        if not plaintext:
            raise _invalid("plaintext must not be empty.")
        integrity = obj.get("ciphertextDataIntegrityValueAlgorithm")
        if integrity is not None and integrity != "SHA_256":
            raise _invalid("ciphertextDataIntegrityValueAlgorithm must be SHA_256.")
        aad = _b64(obj, "additionalAuthenticatedData", required=False) or b""
        return XksRequest(meta, plaintext=plaintext, aad=aad, integrity=integrity is not None)
    if operation is ops.XKS_DECRYPT:
        _algorithm(obj)
        ciphertext = _b64(obj, "ciphertext") or b""
        if not ciphertext:
            raise _invalid("ciphertext must not be empty.")
        iv = _b64(obj, "initializationVector") or b""
        tag = _b64(obj, "authenticationTag") or b""
        aad = _b64(obj, "additionalAuthenticatedData", required=False) or b""
        metadata = _b64(obj, "ciphertextMetadata", required=False)
        if len(iv) not in IV_LENGTHS:
            raise _bad_ciphertext("initializationVector must be 12 or 16 bytes.")
        if len(tag) != TAG_LENGTH:
            raise _bad_ciphertext("authenticationTag must be 16 bytes.")
        if metadata is not None and len(metadata) > MAX_METADATA:
            raise _bad_ciphertext("ciphertextMetadata must be at most 20 bytes.")
        return XksRequest(meta, ciphertext=ciphertext, iv=iv, tag=tag, aad=aad, metadata=metadata)
    return XksRequest(meta)


def _algorithm(obj: dict[str, Any]) -> None:
    if obj.get("encryptionAlgorithm") != "AES_GCM":
        raise _invalid("encryptionAlgorithm must be AES_GCM.")


# -- answers ----------------------------------------------------------------------------------------
def _b64s(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def health_body(report: HealthReport) -> bytes:
    ident = report.token.serial or report.token.label or "hsm-1"
    fleet = [{"id": ident, "model": report.token.model, "healthStatus": report.status}]
    return _json(
        {
            "xksProxyFleetSize": report.fleet_size,
            "xksProxyVendor": report.proxy_vendor,
            "xksProxyModel": report.proxy_model,
            "ekmVendor": report.token.manufacturer,
            "ekmFleetDetails": fleet,
        }
    )


def metadata_body(meta: XksKeyMetadata) -> bytes:
    return _json({"keySpec": meta.key_spec, "keyUsage": list(meta.key_usage), "keyStatus": meta.key_status})


def encrypt_body(out: XksCiphertext) -> bytes:
    body = {
        "ciphertext": _b64s(out.ciphertext),
        "ciphertextMetadata": _b64s(out.metadata),
        "initializationVector": _b64s(out.iv),
        "authenticationTag": _b64s(out.tag),
    }
    if out.integrity_value is not None:
        body["ciphertextDataIntegrityValue"] = _b64s(out.integrity_value)
    return _json(body)


def decrypt_body(plaintext: bytes) -> bytes:
    return _json({"plaintext": _b64s(plaintext)})
