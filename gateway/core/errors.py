"""One error model for the whole gateway, by meaning.

The core raises :class:`KmsError` with an :class:`Err` meaning; each transport
maps the meaning to its wire form through a dialect (see ``gateway.core.dialects``)
so that no transport invents codes and every dialect covers every meaning.
"""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    """Broad class of an error: decides the gRPC status and the usual HTTP status."""

    INVALID = "invalid"  # bad input
    STATE = "state"  # valid input, key in the wrong state
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION = "permission"
    QUOTA = "quota"
    INTERNAL = "internal"


class Err(enum.Enum):
    """Every error the gateway can raise, declared as (kind, default English message)."""

    _kind: Kind
    _message: str

    def __new__(cls, kind: Kind, message: str) -> Err:
        member = object.__new__(cls)
        member._value_ = len(cls.__members__) + 1  # unique even when two messages match
        member._kind = kind
        member._message = message
        return member

    # internal faults
    INTERNAL = (Kind.INTERNAL, "KMS error.")
    HSM_IO = (Kind.INTERNAL, "Abnormal KMS I/O.")
    # request shape
    INVALID_URL = (Kind.INVALID, "Invalid request URL.")
    INVALID_JSON = (Kind.INVALID, "Invalid JSON format of the request message.")
    BODY_TOO_LARGE = (Kind.INVALID, "Request message too long.")
    MISSING_PARAMETER = (Kind.INVALID, "Parameters missing in the request message.")
    INVALID_KEY_ID = (Kind.INVALID, "Invalid key ID.")
    INVALID_SEQUENCE = (Kind.INVALID, "Invalid sequence number.")
    INVALID_PARAMETER = (Kind.INVALID, "Invalid parameter.")
    INVALID_ENCRYPTION_CONTEXT = (Kind.INVALID, "Invalid value of encryption_context.")
    UNSUPPORTED_ALGORITHM = (Kind.INVALID, "The key spec or algorithm is not supported by this HSM.")
    KEY_USAGE_MISMATCH = (Kind.INVALID, "The key's spec or usage does not allow this operation.")
    # keys
    KEY_NOT_FOUND = (Kind.NOT_FOUND, "The key does not exist.")
    KEY_DISABLED = (Kind.STATE, "The key has been disabled.")
    KEY_PENDING_DELETION = (Kind.STATE, "The key is in Scheduled deletion state and cannot be used.")
    KEY_PENDING_IMPORT = (Kind.STATE, "The key is pending import of its material and cannot be used.")
    DEFAULT_KEY_IMMUTABLE = (Kind.INVALID, "Cannot perform this operation on Default Master Keys.")
    INVALID_ALIAS = (Kind.INVALID, "Invalid key_alias.")
    INVALID_REALM = (Kind.INVALID, "Invalid realm.")
    INVALID_DESCRIPTION = (Kind.INVALID, "Invalid key_description.")
    DUPLICATE_ALIAS = (Kind.INVALID, "Duplicate key aliases.")
    KEY_QUOTA_EXCEEDED = (Kind.QUOTA, "Too many keys.")
    KEY_NOT_DISABLED = (Kind.STATE, "The key is not disabled.")
    KEY_NOT_ENABLED = (Kind.STATE, "The key is not enabled.")
    INVALID_PENDING_DAYS = (Kind.INVALID, "Set the pending deletion period between 7 to 1096 days.")
    ALREADY_PENDING_DELETION = (Kind.STATE, "The key is already in Pending deletion state.")
    NOT_PENDING_DELETION = (Kind.STATE, "The key is not in Pending deletion state.")
    INVALID_LIMIT = (Kind.INVALID, "Invalid limit.")
    INVALID_MARKER = (Kind.INVALID, "marker must be greater than or equals 0.")
    # random and data keys
    INVALID_RANDOM_LENGTH = (Kind.INVALID, "random_data_length must be a multiple of 8 between 8 and 8192 bits.")
    INVALID_DATAKEY_LENGTH = (Kind.INVALID, "datakey_length must be a multiple of 8 between 8 and 8192 bits.")
    INVALID_DATAKEY_LENGTH_NO_PLAINTEXT = (
        Kind.INVALID,
        "datakey_length must be a multiple of 8 between 8 and 8192 bits.",
    )
    INVALID_PLAIN_TEXT = (Kind.INVALID, "Invalid plain_text.")
    INVALID_PLAIN_TEXT_LENGTH = (
        Kind.INVALID,
        "datakey_plain_length must be between 1 and 1024 bytes and match plain_text.",
    )
    DEK_HASH_MISMATCH = (Kind.INVALID, "Failed to verify the DEK hash.")
    INVALID_CIPHER_TEXT = (Kind.INVALID, "Invalid cipher_text.")
    INVALID_CIPHER_TEXT_LENGTH = (
        Kind.INVALID,
        "datakey_cipher_length must be between 1 and 1024 bytes and match the key.",
    )
    DEK_HASH_MISMATCH_DECRYPT = (Kind.INVALID, "Failed to verify the DEK hash.")
    # authentication and permission
    TOKEN_MISSING = (Kind.UNAUTHENTICATED, "Invalid or null X-Auth-Token.")
    TOKEN_INVALID = (Kind.UNAUTHENTICATED, "Invalid X-Auth-Token.")
    TOKEN_EXPIRED = (Kind.UNAUTHENTICATED, "X-Auth-Token expired.")
    SIGNATURE_INVALID = (Kind.UNAUTHENTICATED, "Invalid request signature.")
    REQUEST_EXPIRED = (Kind.UNAUTHENTICATED, "X-Sdk-Date is more than 15 minutes from the server time.")
    PROJECT_MISMATCH = (Kind.PERMISSION, "The project in the path is not the caller's project.")
    KEY_ACCESS_DENIED = (Kind.PERMISSION, "No access permissions.")
    OPERATION_DENIED = (Kind.PERMISSION, "No access permissions.")
    RATE_LIMITED = (Kind.QUOTA, "Too many requests; retry after the Retry-After interval.")
    # import (BYOK)
    EXTERNAL_KEY_REQUIRED = (Kind.INVALID, "External keys required.")
    NOT_PENDING_IMPORT = (Kind.STATE, "The key is not in Pending import state.")
    RSA_DECRYPT_FAILED = (Kind.INVALID, "Failed to decrypt data using the RSA private key.")
    IMPORT_TOKEN_EXPIRED = (Kind.INVALID, "Token expired.")
    IMPORT_EXPIRATION_IN_PAST = (Kind.INVALID, "Key expiration time must be later than the current time.")
    IMPORT_KEY_ID_MISMATCH = (Kind.INVALID, "Key IDs in the imported key and token do not match.")
    IMPORT_MATERIAL_LENGTH = (Kind.INVALID, "The external key material must be 32 bytes.")
    IMPORT_TOKEN_INVALID = (Kind.INVALID, "Token verification failed.")
    IMPORT_MATERIAL_MISMATCH = (
        Kind.INVALID,
        "You are importing a deleted key again. The imported material must be the same as the deleted key material.",
    )
    MATERIAL_NOT_DELETABLE = (Kind.STATE, "Key material is not in Enabled or Disabled state and cannot be deleted.")
    # rotation
    ROTATION_EXTERNAL_KEY = (Kind.INVALID, "External keys cannot be rotated.")
    ROTATION_NOT_ENABLED = (Kind.STATE, "Key rotation is not enabled.")
    ROTATION_NOT_DISABLED = (Kind.STATE, "Key rotation is not disabled.")
    INVALID_ROTATION_INTERVAL = (Kind.INVALID, "rotation_interval must be between 30 and 365 days.")
    ROTATION_IN_PROGRESS = (Kind.STATE, "The key is being rotated by another request; retry.")
    # grants
    GRANT_ONLY_CREATE_GRANT = (Kind.INVALID, "operations cannot contain only create-grant.")
    GRANT_INVALID_PRINCIPAL = (Kind.INVALID, "Invalid grantee or retiring principal.")
    GRANT_CREATE_FAILED = (Kind.INVALID, "Failed to create the grant.")
    GRANT_QUOTA_PER_KEY = (Kind.QUOTA, "Too many grants on this key.")
    GRANT_QUOTA_PER_PRINCIPAL = (Kind.QUOTA, "Too many grants for this principal.")
    GRANT_NOT_FOUND = (Kind.NOT_FOUND, "The grant does not exist.")
    GRANT_KEY_MISMATCH = (Kind.INVALID, "grant_id does not match key_id.")
    # tags
    TAG_LIST_EMPTY = (Kind.INVALID, "Tag list cannot be empty.")
    INVALID_MATCH_VALUE = (Kind.INVALID, "Invalid match value.")
    INVALID_MATCH_KEY = (Kind.INVALID, "Invalid match key.")
    INVALID_ACTION = (Kind.INVALID, "Invalid action.")
    INVALID_TAG_VALUE = (Kind.INVALID, "Invalid tag value.")
    INVALID_TAG_KEY = (Kind.INVALID, "Invalid tag key.")
    INVALID_TAG_LIST_SIZE = (Kind.INVALID, "Invalid tag list size.")
    INVALID_RESOURCE_TYPE = (Kind.INVALID, "Invalid resourceType.")
    TOO_MANY_TAGS = (Kind.QUOTA, "Too many tags.")
    INVALID_TAG_VALUE_LENGTH = (Kind.INVALID, "Invalid tag value length.")
    INVALID_TAG_KEY_LENGTH = (Kind.INVALID, "Invalid tag key length.")
    INVALID_TAG_LIST = (Kind.INVALID, "Invalid tag list.")
    TOO_MANY_TAG_VALUES = (Kind.INVALID, "Too many tag values.")
    INVALID_MATCHES = (Kind.INVALID, "Invalid matches.")
    INVALID_OFFSET = (Kind.INVALID, "Invalid offset.")

    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def message(self) -> str:
        return self._message


class KmsError(Exception):
    """A domain error. ``detail`` refines the message and must never hold secrets."""

    def __init__(self, err: Err, detail: str | None = None) -> None:
        super().__init__(detail or err.message)
        self.err = err
        self.detail = detail

    @property
    def message(self) -> str:
        return self.detail or self.err.message

    def __repr__(self) -> str:
        return f"KmsError({self.err.name}, {self.message!r})"
