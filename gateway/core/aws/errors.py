"""The AWS KMS API's error names and HTTP statuses (the ``{"__type", "message"}`` dialect).

The AWS side of the core raises :class:`AwsError` for what only the AWS API names (an alias that
exists, an incorrect key, a bad signature...). Everything else stays a plain :class:`KmsError` by
meaning, and the AWS transport's dialect names it. Every client fault is HTTP 400, as AWS answers
in practice; only KMSInternalException and KeyUnavailableException are 500, and
DependencyTimeoutException 503 (the token did not take the job in time: retry).
"""

from __future__ import annotations

import enum

from gateway.core.errors import Err, KmsError


class AwsName(enum.StrEnum):
    ACCESS_DENIED = "AccessDeniedException"
    ALREADY_EXISTS = "AlreadyExistsException"
    DEPENDENCY_TIMEOUT = "DependencyTimeoutException"
    DISABLED = "DisabledException"
    DRY_RUN = "DryRunOperationException"
    EXPIRED_IMPORT_TOKEN = "ExpiredImportTokenException"  # noqa: S105 - an error name
    INCORRECT_KEY = "IncorrectKeyException"
    INCORRECT_KEY_MATERIAL = "IncorrectKeyMaterialException"
    INVALID_ALIAS_NAME = "InvalidAliasNameException"
    INVALID_ARN = "InvalidArnException"
    INVALID_CIPHERTEXT = "InvalidCiphertextException"
    INVALID_GRANT_ID = "InvalidGrantIdException"
    INVALID_GRANT_TOKEN = "InvalidGrantTokenException"  # noqa: S105 - an error name
    INVALID_IMPORT_TOKEN = "InvalidImportTokenException"  # noqa: S105 - an error name
    INVALID_KEY_USAGE = "InvalidKeyUsageException"
    INVALID_MARKER = "InvalidMarkerException"
    INVALID_SIGNATURE = "InvalidSignatureException"
    INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
    INTERNAL = "KMSInternalException"
    INVALID_STATE = "KMSInvalidStateException"
    KMS_INVALID_SIGNATURE = "KMSInvalidSignatureException"
    KEY_UNAVAILABLE = "KeyUnavailableException"
    LIMIT_EXCEEDED = "LimitExceededException"
    MALFORMED_POLICY = "MalformedPolicyDocumentException"
    MISSING_AUTHENTICATION = "MissingAuthenticationTokenException"
    NOT_FOUND = "NotFoundException"
    SERIALIZATION = "SerializationException"
    TAG = "TagException"
    THROTTLING = "ThrottlingException"
    UNKNOWN_OPERATION = "UnknownOperationException"
    UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
    UNSUPPORTED_OPERATION = "UnsupportedOperationException"
    VALIDATION = "ValidationException"


STATUS: dict[AwsName, int] = {name: 400 for name in AwsName}
STATUS.update({AwsName.INTERNAL: 500, AwsName.KEY_UNAVAILABLE: 500, AwsName.DEPENDENCY_TIMEOUT: 503})

# The general meaning nearest to each name: what the audit line and the metrics record, and what a
# KMS dialect would answer if such an error ever reached another transport.
_MEANING: dict[AwsName, Err] = {
    AwsName.ACCESS_DENIED: Err.KEY_ACCESS_DENIED,
    AwsName.DISABLED: Err.KEY_DISABLED,
    AwsName.INTERNAL: Err.INTERNAL,
    AwsName.KEY_UNAVAILABLE: Err.HSM_IO,
    AwsName.DEPENDENCY_TIMEOUT: Err.HSM_IO,
    AwsName.INVALID_STATE: Err.KEY_NOT_ENABLED,
    AwsName.NOT_FOUND: Err.KEY_NOT_FOUND,
    AwsName.INVALID_CIPHERTEXT: Err.INVALID_CIPHER_TEXT,
    AwsName.LIMIT_EXCEEDED: Err.KEY_QUOTA_EXCEEDED,
    AwsName.THROTTLING: Err.RATE_LIMITED,
    AwsName.UNRECOGNIZED_CLIENT: Err.SIGNATURE_INVALID,
    AwsName.INVALID_SIGNATURE: Err.SIGNATURE_INVALID,
    AwsName.INCOMPLETE_SIGNATURE: Err.SIGNATURE_INVALID,
    AwsName.MISSING_AUTHENTICATION: Err.SIGNATURE_INVALID,
    AwsName.UNKNOWN_OPERATION: Err.INVALID_URL,
    AwsName.SERIALIZATION: Err.INVALID_JSON,
}


class AwsError(KmsError):
    """An error with its AWS name. The message is AWS's shape of it ("" for InvalidCiphertextException
    on a context mismatch: AWS says nothing more, so neither does the gateway)."""

    def __init__(self, name: AwsName, message: str = "", err: Err | None = None) -> None:
        super().__init__(err or _MEANING.get(name, Err.INVALID_PARAMETER), message or None)
        self.name = name
        self.aws_message = message
        self.status = STATUS[name]


def not_found(message: str) -> AwsError:
    return AwsError(AwsName.NOT_FOUND, message)


def validation(message: str) -> AwsError:
    return AwsError(AwsName.VALIDATION, message)
