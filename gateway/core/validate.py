"""Field rules shared by every transport (the REST schema checks JSON types only)."""

from __future__ import annotations

import re

from gateway.core.errors import Err, KmsError

KEY_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ALIAS_RE = re.compile(r"^[a-zA-Z0-9:/_-]{1,255}$")
SEQUENCE_LEN = 36
DESCRIPTION_MAX = 255
REALM_RE = re.compile(r"^[a-zA-Z0-9_-]{0,255}$")
DEFAULT_SUFFIX = "/default"


def key_id(value: str) -> str:
    if not isinstance(value, str) or not KEY_ID_RE.fullmatch(value):
        raise KmsError(Err.INVALID_KEY_ID, "key_id must be a lowercase UUID (36 characters).")
    return value


def sequence(value: str | None) -> None:
    if value and len(value) != SEQUENCE_LEN:
        raise KmsError(Err.INVALID_SEQUENCE, "sequence must be 36 characters.")


def user_alias(value: str) -> str:
    """An alias a user may set: the documented pattern, and not a default-key name."""
    if not isinstance(value, str) or not ALIAS_RE.fullmatch(value):
        raise KmsError(Err.INVALID_ALIAS, "key_alias must match ^[a-zA-Z0-9:/_-]{1,255}$.")
    if value.endswith(DEFAULT_SUFFIX):
        raise KmsError(Err.INVALID_ALIAS, "key_alias may not end in /default: that suffix is reserved.")
    return value


def description(value: str) -> str:
    if len(value) > DESCRIPTION_MAX or any(ord(c) < 0x20 for c in value):
        raise KmsError(Err.INVALID_DESCRIPTION, "key_description must be at most 255 printable characters.")
    return value


def realm(value: str) -> str:
    if not REALM_RE.fullmatch(value):
        raise KmsError(Err.INVALID_REALM, "realm must match ^[a-zA-Z0-9_-]{0,255}$.")
    return value


def bits_to_bytes(bits: int, err: Err) -> int:
    """8-8192 bits, a multiple of 8 (the operation pages' range wins over the tables)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 8 <= bits <= 8192 or bits % 8:
        raise KmsError(err)
    return bits // 8
