"""The XKS error dialect: ``{"errorName", "errorMessage"}`` with the specification's statuses.

Errors the core raised as :class:`XksError` carry their name; every other meaning is named here,
by meaning first and by kind as the fallback, so no error reaches an XKS client in another shape.
The message is printable ASCII under 512 characters, as the specification requires; it is always
the gateway's own text (never a secret, a plaintext or a value the client sent).
"""

from __future__ import annotations

import json

from gateway.core.dialects import WireError
from gateway.core.errors import Err, Kind, KmsError
from gateway.core.xks.errors import STATUS, XksError, XksName
from gateway.pipeline import ErrorEnvelope

MAX_MESSAGE = 511

_BY_ERR: dict[Err, XksName] = {
    Err.INVALID_URL: XksName.INVALID_URI_PATH,
    Err.KEY_NOT_FOUND: XksName.KEY_NOT_FOUND,
    Err.KEY_USAGE_MISMATCH: XksName.INVALID_KEY_USAGE,
    Err.INVALID_CIPHER_TEXT: XksName.INVALID_CIPHERTEXT,
    Err.RATE_LIMITED: XksName.THROTTLING,
}
_BY_KIND: dict[Kind, XksName] = {
    Kind.INVALID: XksName.VALIDATION,
    Kind.STATE: XksName.INVALID_STATE,  # disabled, pending deletion, pending import
    Kind.NOT_FOUND: XksName.KEY_NOT_FOUND,
    Kind.UNAUTHENTICATED: XksName.AUTHENTICATION_FAILED,
    Kind.PERMISSION: XksName.ACCESS_DENIED,
    Kind.QUOTA: XksName.THROTTLING,
    Kind.INTERNAL: XksName.INTERNAL,  # HSM faults included
}


def xks_name(exc: KmsError) -> XksName:
    if isinstance(exc, XksError):
        return exc.name
    return _BY_ERR.get(exc.err) or _BY_KIND[exc.err.kind]


class XksDialect:
    """Implements the pipeline's ``ErrorDialect``: ``code`` is the XKS error name."""

    def render(self, exc: KmsError) -> WireError:
        name = xks_name(exc)
        status = exc.status if isinstance(exc, XksError) else STATUS[name]
        return WireError(status, name.value, printable(exc.message))


def printable(text: str) -> str:
    """Printable ASCII (0x20-0x7e) only, at most :data:`MAX_MESSAGE` characters."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text[:MAX_MESSAGE])


def error_body(wire: WireError) -> bytes:
    return json.dumps({"errorName": wire.code, "errorMessage": wire.message}, separators=(",", ":")).encode()


# A request head the HTTP parser refuses on an XKS path (or on the XKS listener) gets this shape too.
ENVELOPE = ErrorEnvelope(XksDialect(), error_body, b"application/json")
