"""AWS Signature Version 4 verification for the gateway's AWS-style transports.

One verifier per transport, configured by a :class:`SigV4Policy`: the service name the credential
scope must carry (``kms-xks-proxy`` for the XKS proxy API, ``kms`` for an AWS KMS JSON API), the
regions accepted (empty: any) and the clock skew allowed. The rules, for every transport alike:

* ``Authorization: AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
  SignedHeaders=..., Signature=...``; the scope date must be the ``X-Amz-Date`` date;
* **SignedHeaders are taken from the request**, as the client chose them (AWS KMS signs
  ``host;x-amz-date``, ``curl --aws-sigv4`` adds ``content-type``); the policy only says which
  must be among them (``host`` and ``x-amz-date``);
* the payload hash is the SHA-256 of the body *as received*;
* ``X-Amz-Date`` within ``max_skew_s`` of the server clock (a replay inside that window is
  accepted: there is no nonce store, as in AWS's own scheme);
* the signatures are compared in constant time, and an unknown access key costs the same HMAC work
  as a known one and fails the same way, so a caller cannot tell which access keys exist.

Failures carry a ``reason`` for the server's logs (never a secret, a signature or the expected
value) and a ``public`` message for the client, identical for an unknown key and a wrong secret.
"""

from __future__ import annotations

import calendar
import enum
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from gateway.sigv4 import canonical as c

_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_SCOPE_DATE = re.compile(r"^\d{8}$")
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_ACCESS_KEY = re.compile(r"^[\x21-\x2e\x30-\x7e]{1,128}$")  # printable, no "/" (it ends the key in the scope)
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_DUMMY_SECRET = "kmsgw-sigv4-unknown-access-key"  # noqa: S105 - never verifies anything: spends a real check's work
_NO_MATCH = "The request signature does not match."
_MAX_SIGNING_KEYS = 1024  # derived keys kept (one per credential, day, region): 4 HMACs saved per request
_MAX_MEMO = 1024  # entries per parse memo (below); cleared when full


V = TypeVar("V")


class Refusal(enum.Enum):
    MALFORMED = "malformed"  # the Authorization or X-Amz-Date header cannot be read
    SCOPE = "scope"  # wrong algorithm, service, region, terminator or scope date
    SKEW = "skew"  # X-Amz-Date too far from the server clock
    UNKNOWN_KEY = "unknown_key"  # no such access key (or not one this endpoint accepts)
    MISMATCH = "mismatch"  # the signature is not the one the secret gives


class SigV4Error(Exception):
    """A refused signature: ``reason`` for logs, ``public`` for the client."""

    def __init__(self, refusal: Refusal, reason: str, public: str | None = None) -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason
        self.public = public or reason


@dataclass(frozen=True)
class SigV4Policy:
    service: str  # the credential scope's service, e.g. "kms-xks-proxy"
    regions: frozenset[str] = frozenset()  # accepted scope regions; empty: any region
    max_skew_s: float = 300.0
    required_headers: frozenset[str] = frozenset({"host", "x-amz-date"})


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: ASGI's raw path, query string, header pairs and the body's bytes."""

    method: str
    raw_path: bytes
    raw_query: bytes
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class ParsedSignature:
    """What an Authorization header claims, checked against the policy but not yet verified."""

    access_key_id: str
    date: str  # the scope's YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    header_values: dict[str, str]

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{c.TERMINATOR}"


class SigV4Verifier:
    def __init__(self, policy: SigV4Policy) -> None:
        self.policy = policy
        self._keys: dict[tuple[str, str, str], bytes] = {}  # (secret, date, region) -> signing key
        self._scopes: dict[str, tuple[str, str, str, str]] = {}  # Credential -> (access key, date, region, service)
        self._signed: dict[str, tuple[str, ...]] = {}  # SignedHeaders -> its checked names
        self._stamps: dict[str, float] = {}  # X-Amz-Date -> epoch seconds

    def parse(self, request: SignedRequest, now: float) -> ParsedSignature:
        """The request's claimed signature, or :class:`SigV4Error` for anything the policy refuses."""
        headers = _by_name(request.headers)
        header = _one(headers, "authorization")
        if header is None:
            raise SigV4Error(Refusal.MALFORMED, "no Authorization header")
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != c.ALGORITHM:
            raise SigV4Error(Refusal.SCOPE, f"the Authorization algorithm is not {c.ALGORITHM}")
        fields = _fields(rest)
        access_key, date, region, service = self._scope(fields["Credential"])
        signed = self._signed_headers(fields["SignedHeaders"])
        if not _SIGNATURE.fullmatch(fields["Signature"]):
            raise SigV4Error(Refusal.MALFORMED, "Signature is not 64 lower-case hex digits")
        if any(name not in headers for name in signed):
            raise SigV4Error(Refusal.MALFORMED, "a header named in SignedHeaders is absent")
        values = {name: c.canonical_value(headers[name]) for name in signed}
        amz_date = values.get("x-amz-date") or (_one(headers, "x-amz-date") or "")
        stamp = self._timestamp(amz_date)
        if amz_date[:8] != date:
            raise SigV4Error(Refusal.SCOPE, "the credential scope's date is not the X-Amz-Date date")
        if abs(now - stamp) > self.policy.max_skew_s:
            raise SigV4Error(Refusal.SKEW, f"X-Amz-Date is more than {self.policy.max_skew_s:g} s from the server time")
        return ParsedSignature(access_key, date, region, service, signed, fields["Signature"], amz_date, values)

    # Each step below is a pure function of one header field, memoized by that field's text: a
    # client sends the same Credential, SignedHeaders and (within a second) X-Amz-Date on every
    # request, so the regular expressions run once per client and day, not once per request.
    # Only accepted values are kept (refusals are recomputed), and each memo is bounded.
    def _scope(self, credential: str) -> tuple[str, str, str, str]:
        hit = self._scopes.get(credential)
        if hit is None:
            hit = _remember(self._scopes, credential, self._check_scope(credential))
        return hit

    def _check_scope(self, credential: str) -> tuple[str, str, str, str]:
        parts = credential.split("/")
        if len(parts) != 5:
            raise SigV4Error(Refusal.MALFORMED, "Credential is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request")
        access_key, date, region, service, terminator = parts
        if not _ACCESS_KEY.fullmatch(access_key):
            raise SigV4Error(Refusal.MALFORMED, "the Credential's access key id is not printable text")
        if terminator != c.TERMINATOR or not _SCOPE_DATE.fullmatch(date) or not _REGION.fullmatch(region):
            raise SigV4Error(Refusal.SCOPE, "the credential scope is malformed")
        if service != self.policy.service:
            raise SigV4Error(Refusal.SCOPE, f"the credential scope's service is not {self.policy.service}")
        if self.policy.regions and region not in self.policy.regions:
            raise SigV4Error(Refusal.SCOPE, "the credential scope's region is not accepted here")
        return access_key, date, region, service

    def _signed_headers(self, text: str) -> tuple[str, ...]:
        hit = self._signed.get(text)
        if hit is None:
            signed = tuple(text.split(";"))
            if not all(_HEADER_NAME.fullmatch(name) for name in signed) or len(set(signed)) != len(signed):
                raise SigV4Error(Refusal.MALFORMED, "SignedHeaders is not a list of distinct lower-case header names")
            missing = sorted(self.policy.required_headers - set(signed))
            if missing:
                raise SigV4Error(Refusal.MALFORMED, f"SignedHeaders lacks {', '.join(missing)}")
            hit = _remember(self._signed, text, signed)
        return hit

    def _timestamp(self, amz_date: str) -> float:
        hit = self._stamps.get(amz_date)
        if hit is None:
            if not _AMZ_DATE.fullmatch(amz_date):
                raise SigV4Error(Refusal.MALFORMED, "X-Amz-Date is not YYYYMMDDTHHMMSSZ")
            hit = _remember(self._stamps, amz_date, _timestamp(amz_date))
        return hit

    def verify(self, request: SignedRequest, parsed: ParsedSignature, secret: str | None) -> None:
        """Raise unless ``parsed`` is the signature ``secret`` gives this request. ``secret`` None
        (unknown access key) spends the same work and fails with the same public message."""
        key = self._signing_key(secret if secret is not None else _DUMMY_SECRET, parsed)
        canonical = c.canonical_request(
            request.method,
            request.raw_path,
            request.raw_query,
            parsed.signed_headers,
            parsed.header_values,
            request.body,
        )
        expected = c.signature(key, c.string_to_sign(parsed.amz_date, parsed.scope, canonical))
        matches = hmac.compare_digest(expected, parsed.signature)
        if secret is None:
            raise SigV4Error(Refusal.UNKNOWN_KEY, "unknown access key id", _NO_MATCH)
        if not matches:
            raise SigV4Error(Refusal.MISMATCH, "signature mismatch", _NO_MATCH)

    def _signing_key(self, secret: str, parsed: ParsedSignature) -> bytes:
        cache_key = (secret, parsed.date, parsed.region)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) >= _MAX_SIGNING_KEYS:
                self._keys.clear()
            key = self._keys[cache_key] = c.signing_key(secret, parsed.date, parsed.region, self.policy.service)
        return key


def _remember(memo: dict[str, V], text: str, value: V) -> V:
    if len(memo) >= _MAX_MEMO:
        memo.clear()
    memo[text] = value
    return value


def _by_name(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        out.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value.decode("latin-1"))
    return out


def _one(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values is not None and len(values) == 1 else None


def _timestamp(amz_date: str) -> float:
    """Seconds since the epoch of a YYYYMMDDTHHMMSSZ time (strptime costs tens of microseconds)."""
    year, month, day = int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8])
    hour, minute, second = int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24 and minute < 60
            and second < 61):  # fmt: skip
        raise SigV4Error(Refusal.MALFORMED, "X-Amz-Date is not a valid time")
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def _fields(rest: str) -> dict[str, str]:
    """Credential, SignedHeaders and Signature, each exactly once (``k=v`` separated by commas)."""
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq or name in fields:
            raise SigV4Error(
                Refusal.MALFORMED, "the Authorization header is not Credential=..., SignedHeaders=..., Signature=..."
            )
        fields[name] = value.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise SigV4Error(Refusal.MALFORMED, "the Authorization header needs Credential, SignedHeaders and Signature")
    return fields
