"""The AWS error dialect: ``{"__type": "<Name>", "message": "..."}``, HTTP 400 for every client fault,
500 for KMSInternalException and KeyUnavailableException, 503 for DependencyTimeoutException.

Errors the AWS side of the core raised carry their name (:class:`AwsError`); every other meaning
(:class:`Err`) is named here, by meaning first and by kind as the fallback, so no error reaches an
AWS client in another shape and botocore always parses it into its ``ClientError``.
"""

from __future__ import annotations

import json

from gateway.core.aws.errors import STATUS, AwsError, AwsName
from gateway.core.dialects import WireError
from gateway.core.errors import Err, Kind, KmsError

_BY_ERR: dict[Err, AwsName] = {
    Err.KEY_NOT_FOUND: AwsName.NOT_FOUND,
    Err.KEY_DISABLED: AwsName.DISABLED,
    Err.INVALID_CIPHER_TEXT: AwsName.INVALID_CIPHERTEXT,
    Err.RSA_DECRYPT_FAILED: AwsName.INVALID_CIPHERTEXT,
    Err.KEY_USAGE_MISMATCH: AwsName.INVALID_KEY_USAGE,
    Err.UNSUPPORTED_ALGORITHM: AwsName.UNSUPPORTED_OPERATION,
    Err.EXTERNAL_KEY_REQUIRED: AwsName.UNSUPPORTED_OPERATION,
    Err.ROTATION_EXTERNAL_KEY: AwsName.UNSUPPORTED_OPERATION,
    Err.IMPORT_TOKEN_EXPIRED: AwsName.EXPIRED_IMPORT_TOKEN,
    Err.IMPORT_TOKEN_INVALID: AwsName.INVALID_IMPORT_TOKEN,
    Err.IMPORT_KEY_ID_MISMATCH: AwsName.INVALID_IMPORT_TOKEN,
    Err.IMPORT_MATERIAL_MISMATCH: AwsName.INCORRECT_KEY_MATERIAL,
    Err.IMPORT_MATERIAL_LENGTH: AwsName.INCORRECT_KEY_MATERIAL,
    Err.RATE_LIMITED: AwsName.THROTTLING,
    Err.HSM_IO: AwsName.KEY_UNAVAILABLE,
    Err.INTERNAL: AwsName.INTERNAL,
    Err.INVALID_JSON: AwsName.SERIALIZATION,
    Err.BODY_TOO_LARGE: AwsName.VALIDATION,
}
_BY_KIND: dict[Kind, AwsName] = {
    Kind.INVALID: AwsName.VALIDATION,
    Kind.STATE: AwsName.INVALID_STATE,  # pending deletion or import, not disabled, rotation states
    Kind.NOT_FOUND: AwsName.NOT_FOUND,
    Kind.UNAUTHENTICATED: AwsName.UNRECOGNIZED_CLIENT,
    Kind.PERMISSION: AwsName.ACCESS_DENIED,
    Kind.QUOTA: AwsName.LIMIT_EXCEEDED,
    Kind.INTERNAL: AwsName.INTERNAL,
}


def aws_name(exc: KmsError) -> AwsName:
    if isinstance(exc, AwsError):
        return exc.name
    return _BY_ERR.get(exc.err) or _BY_KIND[exc.err.kind]


class AwsDialect:
    """Implements the pipeline's ``ErrorDialect``: ``code`` is the AWS error name (``__type``)."""

    def render(self, exc: KmsError) -> WireError:
        name = aws_name(exc)
        message = exc.aws_message if isinstance(exc, AwsError) else exc.message
        if name in (AwsName.INTERNAL, AwsName.KEY_UNAVAILABLE) and not isinstance(exc, AwsError):
            message = exc.err.message  # never a detail of an internal fault
        return WireError(STATUS[name], name.value, message)


def error_body(wire: WireError) -> bytes:
    """AWS's JSON 1.1 error document; no ``message`` member when there is nothing to say."""
    doc = {"__type": wire.code}
    if wire.message:
        doc["message"] = wire.message
    return json.dumps(doc).encode()
