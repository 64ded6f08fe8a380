"""The request fields an audit line records, read from a decoded request of any transport.

Only ``key_id`` (or a batch's first item's) and ``sequence``, clipped: never more of the body.
"""

from __future__ import annotations

_AUDIT_FIELD_MAX = 64


def _short(value: object) -> str:
    return value[:_AUDIT_FIELD_MAX] if isinstance(value, str) else ""


def key_id_of(message: object) -> str:
    """The key a request names: its ``key_id``, else its first batch item's (clipped)."""
    key_id = _short(getattr(message, "key_id", None))
    if not key_id:
        for item in getattr(message, "items", None) or ():
            key_id = _short(getattr(item, "key_id", None))
            if key_id:
                break
    return key_id


def sequence_of(message: object) -> str | None:
    """The request's ``sequence`` (None when absent or empty), clipped."""
    return _short(getattr(message, "sequence", None)) or None


def clip(value: str) -> str:
    """A client-chosen value (e.g. a path's key id) clipped like the fields above."""
    return value[:_AUDIT_FIELD_MAX]
