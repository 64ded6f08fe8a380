"""What names an XKS keystore, credential and key mapping, and how each is checked.

Rules from the AWS KMS External Key Store Proxy API Specification v1.0.3: ``XksProxyUriPath`` is
the keystore's prefix followed by ``/kms/xks/v1``, at most 128 characters of ``A-Za-z0-9/-_``;
an access key id is 20-30 characters of ``A-Z2-7``; a secret access key 43-64 characters of
``A-Za-z0-9+/=``; an external key id 1-128 characters of ``A-Za-z0-9._-``.
"""

from __future__ import annotations

import base64
import re

URI_PATH_SUFFIX = "/kms/xks/v1"
MAX_URI_PATH = 128
ENCRYPT = "ENCRYPT"
DECRYPT = "DECRYPT"
USAGE_CHOICES = ("ENCRYPT,DECRYPT", "ENCRYPT", "DECRYPT", "NONE")
XKS_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
ACCESS_KEY_ID = re.compile(r"^[A-Z2-7]{20,30}$")
_PREFIX = re.compile(r"^[A-Za-z0-9/_-]*$")
ACCESS_KEY_RANDOM_BYTES = 15  # base32: 24 characters of A-Z2-7
SECRET_RANDOM_BYTES = 32  # base64: 44 characters, 256 bits as the specification asks


def normalize_prefix(text: str) -> str:
    """The stored form of a keystore prefix: "" or "/a[/b...]" (a leading "/" is optional on input)."""
    prefix = text[1:] if text.startswith("/") else text
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("a URI prefix may hold only A-Z, a-z, 0-9, '/', '-' and '_'")
    if prefix and "" in prefix.split("/"):
        raise ValueError("a URI prefix may not have an empty segment ('//', or a '/' at its end)")
    normalized = f"/{prefix}" if prefix else ""
    if URI_PATH_SUFFIX + "/" in normalized + "/":
        raise ValueError(f"a URI prefix may not contain {URI_PATH_SUFFIX[1:]}")
    if len(uri_path(normalized)) > MAX_URI_PATH:
        raise ValueError(f"the XksProxyUriPath (prefix + {URI_PATH_SUFFIX}) must be at most {MAX_URI_PATH} characters")
    return normalized


def uri_path(prefix: str) -> str:
    """The keystore's ``XksProxyUriPath``."""
    return prefix + URI_PATH_SUFFIX


def xks_key_id(text: str) -> str:
    if not XKS_KEY_ID.fullmatch(text):
        raise ValueError("an XKS key id must match ^[A-Za-z0-9._-]{1,128}$")
    return text


def parse_usage(text: str) -> tuple[str, ...]:
    """``ENCRYPT,DECRYPT`` (either order), ``ENCRYPT``, ``DECRYPT`` or ``NONE`` -> the stored tuple."""
    parts = {p.strip().upper() for p in text.split(",") if p.strip()}
    if parts == {"NONE"}:
        return ()
    if not parts or not parts <= {ENCRYPT, DECRYPT}:
        raise ValueError(f"--usage must be one of {', '.join(USAGE_CHOICES)}")
    return tuple(u for u in (ENCRYPT, DECRYPT) if u in parts)


def credential_from_random(random: bytes) -> tuple[str, str]:
    """(access key id, secret access key) from token RNG bytes; the two halves are independent."""
    if len(random) != ACCESS_KEY_RANDOM_BYTES + SECRET_RANDOM_BYTES:
        raise ValueError("wrong amount of random material for a credential")
    access_key_id = base64.b32encode(random[:ACCESS_KEY_RANDOM_BYTES]).decode()
    secret = base64.b64encode(random[ACCESS_KEY_RANDOM_BYTES:]).decode()
    return access_key_id, secret
