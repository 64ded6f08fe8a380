"""The XKS proxy API's error names and their HTTP statuses (the specification's error table).

The core raises :class:`XksError` only for what no general meaning (:class:`Err`) names: an HSM
that did not take a job in time, a payload over this gateway's size limit, a ciphertext that does
not open, a mapping's usage. Everything else stays a plain :class:`KmsError` (a disabled key, a
rate limit, an HSM fault); the XKS transport's dialect gives each meaning its XKS name.
"""

from __future__ import annotations

import enum

from gateway.core.errors import Err, KmsError


class XksName(enum.StrEnum):
    VALIDATION = "ValidationException"
    INVALID_STATE = "InvalidStateException"
    INVALID_CIPHERTEXT = "InvalidCiphertextException"
    INVALID_KEY_USAGE = "InvalidKeyUsageException"
    AUTHENTICATION_FAILED = "AuthenticationFailedException"
    ACCESS_DENIED = "AccessDeniedException"
    KEY_NOT_FOUND = "KeyNotFoundException"
    INVALID_URI_PATH = "InvalidUriPathException"
    THROTTLING = "ThrottlingException"
    UNSUPPORTED_OPERATION = "UnsupportedOperationException"
    DEPENDENCY_TIMEOUT = "DependencyTimeoutException"
    INTERNAL = "InternalException"


STATUS: dict[XksName, int] = {
    XksName.VALIDATION: 400,
    XksName.INVALID_STATE: 400,
    XksName.INVALID_CIPHERTEXT: 400,
    XksName.INVALID_KEY_USAGE: 400,
    XksName.AUTHENTICATION_FAILED: 401,
    XksName.ACCESS_DENIED: 403,
    XksName.KEY_NOT_FOUND: 404,
    XksName.INVALID_URI_PATH: 404,
    XksName.THROTTLING: 429,
    XksName.INTERNAL: 500,
    XksName.UNSUPPORTED_OPERATION: 501,
    XksName.DEPENDENCY_TIMEOUT: 503,
}


class XksError(KmsError):
    """An error with an XKS name. ``err`` is the nearest general meaning (what a KMS dialect would
    answer); ``status`` overrides the name's status where HTTP itself decides (405)."""

    def __init__(self, name: XksName, err: Err, detail: str, status: int | None = None) -> None:
        super().__init__(err, detail)
        self.name = name
        self.status = status if status is not None else STATUS[name]
