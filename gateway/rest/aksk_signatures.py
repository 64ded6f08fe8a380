"""Verify Huawei-Cloud-style ``SDK-HMAC-SHA256`` request signatures (AK/SK auth).

Why this exists: the official ``huaweicloudsdkkms`` client, unmodified, signs every request with
``huaweicloudsdkcore.signer.Signer``; the gateway must accept exactly those signatures and nothing
weaker. This module re-implements the server side of that scheme from its definition, with no
dependency on the SDK (tests check it against the SDK's own signer).

The scheme, as the SDK builds it::

    canonical_request = METHOD "\\n" canonical_uri "\\n" canonical_query "\\n"
                        canonical_headers "\\n" signed_headers "\\n" hex(sha256(body))
    string_to_sign    = "SDK-HMAC-SHA256\\n" X-Sdk-Date "\\n" hex(sha256(canonical_request))
    signature         = hex(hmac_sha256(secret_key, string_to_sign))
    Authorization: SDK-HMAC-SHA256 Access=<ak>, SignedHeaders=<a;b;c>, Signature=<hex>

* canonical_uri: the path percent-decoded, split on "/", each segment re-encoded with
  ``quote(safe="~")``, joined, with a trailing "/" added when missing.
* canonical_query: pairs sorted, each key and value encoded with ``quote(safe="~")``, "k=v" joined
  by "&" (the SDK sends the query string in exactly this form).
* canonical_headers: "name:value" per signed header (lower-case name, stripped value), each
  followed by a newline; the SDK signs every header whose name has no "_" (Content-Type, Host,
  User-Agent, X-Project-Id, X-Sdk-Date).
* an empty body hashes as sha256(b""); ``X-Sdk-Content-Sha256`` may carry the body hash instead.

Policy on top of the scheme: the signature is compared in constant time; ``host`` and
``x-sdk-date`` must be among the signed headers (otherwise the date or the target could be
changed freely); an X-Sdk-Date further than 15 minutes from the server clock, either way, is
stale; a replay inside that window is accepted (there is no nonce store); an unsigned payload
(``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD``) is refused because every KMS body matters.
Error reasons never contain the secret key or the expected signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "DEFAULT_MAX_SKEW",
    "SignatureError",
    "SignedRequest",
    "StaleRequestError",
    "canonical_request",
    "compute_signature",
    "parse_authorization",
    "parse_sdk_date",
    "query_from_raw",
    "verify",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_MAX_SKEW = timedelta(minutes=15)
#: Headers that must be covered by the signature, whatever else the client chose to sign.
REQUIRED_SIGNED_HEADERS = frozenset({"host", DATE_HEADER})
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

# All matched with fullmatch: "$" would also accept a trailing newline.
_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^`|~0-9a-z-]+")  # RFC 9110 token, lower case
_ACCESS_KEY_RE = re.compile(r"[^\s,=;]+")
_AUTH_PARAM_RE = re.compile(r"[ \t]*([A-Za-z]+)=(.*?)[ \t]*")


class SignatureError(Exception):
    """The request is not authentically signed; ``reason`` is safe to log (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StaleRequestError(SignatureError):
    """X-Sdk-Date is outside the accepted window (a distinct error code for the client)."""


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs from an HTTP request, independent of any web framework.

    ``path`` is the raw path as received (still percent-encoded, without the query string),
    e.g. ASGI ``scope["raw_path"]``: a decoded path would lose the difference between "/" and
    "%2F" inside a tag key. ``query`` holds the decoded (key, value) pairs in wire order (see
    ``query_from_raw``). ``headers`` may be any mapping; names are matched case-insensitively.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def from_raw(
        cls,
        method: str,
        raw_path: bytes | str,
        raw_query: bytes | str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> SignedRequest:
        """Build from the raw pieces an ASGI server hands over (raw_path, query_string)."""
        path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else raw_path
        return cls(method=method, path=path, query=query_from_raw(raw_query), headers=headers, body=body)


def query_from_raw(raw_query: bytes | str) -> list[tuple[str, str]]:
    """Split a raw query string into decoded pairs, keeping wire order.

    Uses RFC 3986 decoding ("+" stays "+"), unlike HTML-form decoding: the SDK encodes a space
    as "%20" and "+" as "%2B", so this is exact for its requests and does not corrupt a literal
    "+" sent by other signers.
    """
    text = raw_query.decode("latin-1") if isinstance(raw_query, bytes) else raw_query
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def _encode(s: str) -> str:
    return quote(s, safe="~")


def _canonical_uri(raw_path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _canonical_query_candidates(pairs: list[tuple[str, str]]) -> list[str]:
    """The canonical query strings a legitimate signer may have produced for these pairs.

    The SDK sorts its (key, value) tuples with their original Python types before encoding
    (so repeated integer values sort numerically) and sends them in that order; a stable sort
    on the key alone reproduces that from the wire. Signers that sort values as strings are
    covered by the full sort. Both are deterministic functions of the same signed pairs, so
    accepting either gives an attacker nothing.
    """
    by_key = sorted(pairs, key=lambda kv: kv[0])
    full = sorted(pairs)
    out: list[str] = []
    for ordering in (by_key, full):
        text = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in ordering)
        if text not in out:
            out.append(text)
    return out


def _header_values(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Lower-cased name -> all values (a multi-dict such as Starlette's yields repeats)."""
    items: Iterable[tuple[str, str]] = headers.items()
    multi = getattr(headers, "multi_items", None)
    if callable(multi):
        items = multi()
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name.lower(), []).append(value)
    return out


def _wire_to_text(value: str) -> str:
    """Undo an ASGI server's latin-1 decoding of a UTF-8 header (the SDK sends UTF-8 bytes)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _canonical_headers(values: dict[str, list[str]], signed_headers: list[str]) -> str:
    lines = []
    for name in signed_headers:
        found = values.get(name)
        if not found:
            raise SignatureError(f"signed header {name!r} is missing from the request")
        if len(found) > 1:
            raise SignatureError(f"signed header {name!r} appears more than once")
        lines.append(f"{name}:{_wire_to_text(found[0]).strip()}")
    return "\n".join(lines) + "\n"


def _payload_hash(body: bytes, values: dict[str, list[str]]) -> str:
    if not body:
        return EMPTY_BODY_SHA256
    actual = hashlib.sha256(body).hexdigest()
    declared = values.get(CONTENT_HASH_HEADER)
    if not declared:
        return actual
    if len(declared) > 1:
        raise SignatureError("X-Sdk-Content-Sha256 appears more than once")
    value = declared[0].strip()
    if value.upper() == UNSIGNED_PAYLOAD:
        raise SignatureError("unsigned payloads are not accepted")
    if not hmac.compare_digest(value.lower().encode(), actual.encode()):
        raise SignatureError("X-Sdk-Content-Sha256 does not match the body")
    return value  # signed verbatim, as the SDK does


def parse_sdk_date(value: str) -> datetime:
    """Parse an X-Sdk-Date (``20240102T030405Z``, UTC) strictly; raises SignatureError."""
    if not _DATE_RE.fullmatch(value):
        raise SignatureError("X-Sdk-Date is not in the form YYYYMMDDTHHMMSSZ")
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("X-Sdk-Date is not a valid date") from None


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """Split an Authorization header into (access_key, signed_headers, signature).

    Accepts exactly ``SDK-HMAC-SHA256 Access=..., SignedHeaders=a;b, Signature=<64 hex>``
    (parameters in any order, optional spaces after commas). Other algorithms the SDK can be
    configured for (HMAC-SM3, ECDSA, SM2, the derived V11 scheme) are refused as unsupported.
    """
    if not value:
        raise SignatureError("missing Authorization header")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError("unsupported signing algorithm")
    params: dict[str, str] = {}
    for part in rest.split(","):
        m = _AUTH_PARAM_RE.fullmatch(part)
        if not m:
            raise SignatureError("malformed Authorization header")
        name, val = m.group(1), m.group(2)
        if name in params:
            raise SignatureError(f"duplicate {name} in Authorization header")
        params[name] = val
    if set(params) != {"Access", "SignedHeaders", "Signature"}:
        raise SignatureError("Authorization header needs exactly Access, SignedHeaders and Signature")
    access_key, signed, signature = params["Access"], params["SignedHeaders"], params["Signature"]
    if not _ACCESS_KEY_RE.fullmatch(access_key):
        raise SignatureError("malformed access key")
    if not _HEX64_RE.fullmatch(signature):
        raise SignatureError("signature is not 64 lower-case hex digits")
    names = signed.split(";")
    if not all(_HEADER_NAME_RE.fullmatch(n) for n in names):
        raise SignatureError("SignedHeaders must be lower-case header names separated by ';'")
    if len(set(names)) != len(names):
        raise SignatureError("SignedHeaders lists a header twice")
    return access_key, names, signature


def canonical_request(req: SignedRequest, signed_headers: list[str], query: str | None = None) -> str:
    """The canonical request string (exposed for debugging and for test clients).

    ``query`` overrides the canonical query string; by default the SDK's ordering is used.
    """
    values = _header_values(req.headers)
    canonical_query = _canonical_query_candidates(req.query)[0] if query is None else query
    return "\n".join(
        (
            req.method.upper(),
            _canonical_uri(req.path),
            canonical_query,
            _canonical_headers(values, signed_headers),
            ";".join(signed_headers),
            _payload_hash(req.body, values),
        )
    )


def _signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def compute_signature(req: SignedRequest, secret_key: str, signed_headers: list[str]) -> str:
    """Sign ``req`` as the SDK would (for non-SDK test clients); needs an X-Sdk-Date header."""
    values = _header_values(req.headers)
    dates = values.get(DATE_HEADER)
    if not dates:
        raise SignatureError("missing X-Sdk-Date header")
    return _signature(secret_key, dates[0].strip(), canonical_request(req, signed_headers))


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def verify(
    req: SignedRequest,
    secret_key: str,
    now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> None:
    """Accept ``req`` only if it is signed with ``secret_key`` and dated within ``max_skew``.

    ``now`` is the server time (a naive datetime is taken as UTC). The caller first reads the
    access key with ``parse_authorization`` to look up ``secret_key``. Raises
    ``StaleRequestError`` for a date outside the window and ``SignatureError`` otherwise; the
    date is checked before the HMAC so a stale request is reported as stale even if also forged
    (the date is covered by the signature, so this reveals nothing).
    """
    values = _header_values(req.headers)
    auth = values.get("authorization")
    if not auth:
        raise SignatureError("missing Authorization header")
    if len(auth) > 1:
        raise SignatureError("Authorization header appears more than once")
    _, signed_headers, signature = parse_authorization(auth[0])
    missing = REQUIRED_SIGNED_HEADERS.difference(signed_headers)
    if missing:
        raise SignatureError(f"SignedHeaders must include {', '.join(sorted(missing))}")

    dates = values.get(DATE_HEADER)
    if not dates:
        raise SignatureError("missing X-Sdk-Date header")
    if len(dates) > 1:
        raise SignatureError("X-Sdk-Date appears more than once")
    sdk_date = dates[0].strip()
    signed_at = parse_sdk_date(sdk_date)
    if abs(_as_utc(now) - signed_at) > max_skew:
        raise StaleRequestError("X-Sdk-Date is too far from the server time")

    matched = False
    for query in _canonical_query_candidates(req.query):
        expected = _signature(secret_key, sdk_date, canonical_request(req, signed_headers, query))
        # Evaluate every candidate (at most two) to keep timing independent of which matched.
        matched |= hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))
    if not matched:
        raise SignatureError("signature does not match")
