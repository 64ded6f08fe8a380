"""The pieces without a server: the SigV4 verifier against botocore's signer, names, the
specification's CDIV example, the token's AAD layout, the error dialect and the routes."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.core import operations as ops
from gateway.core.errors import Err, KmsError
from gateway.core.ratelimit import RateLimited
from gateway.core.xks import XksCiphertext, names
from gateway.core.xks.crypto import integrity_value, token_aad
from gateway.core.xks.errors import STATUS, XksName
from gateway.sigv4 import Refusal, SignedRequest, SigV4Error, SigV4Policy, SigV4Verifier
from gateway.xks.errors import XksDialect, printable
from gateway.xks.routing import match

SECRET = "FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE"  # the specification's example (not a real secret)
AK = "AKIAI2SFODNN7EXAMPLE"


def _signed(
    body: bytes = b'{"a":1}',
    *,
    path: str = "/p/kms/xks/v1/health",
    region: str = "us-east-1",
    service: str = "kms-xks-proxy",
    at: datetime | None = None,
    headers: dict | None = None,
) -> SignedRequest:
    request = AWSRequest(method="POST", url=f"https://xks.example.com:8443{path}", data=body, headers=headers or {})
    signer = SigV4Auth(Credentials(AK, SECRET), service, region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.now(UTC).replace(tzinfo=None)):
        signer.add_auth(request)
    pairs = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    pairs.append((b"host", b"xks.example.com:8443"))
    return SignedRequest("POST", path.split("?")[0].encode(), path.partition("?")[2].encode(), pairs, body)


def _verify(request: SignedRequest, policy: SigV4Policy | None = None, secret: str | None = SECRET) -> None:
    verifier = SigV4Verifier(policy or SigV4Policy("kms-xks-proxy"))
    verifier.verify(request, verifier.parse(request, time.time()), secret)


def test_botocore_signatures_verify():
    _verify(_signed())
    _verify(_signed(headers={"Content-Type": "application/json", "X-Extra": "a   b"}))
    _verify(_signed(path="/p/kms/xks/v1/keys/k-1.a_b~/encrypt"))
    _verify(_signed(path="/x?b=2&a=1&a=0&c=%2Fd"), SigV4Policy("kms-xks-proxy"))  # a query, for the AWS API's sake
    _verify(_signed(service="kms", region="eu-west-1"), SigV4Policy("kms", frozenset({"eu-west-1"})))


def test_refusals_and_their_reasons():
    request = _signed()
    with pytest.raises(SigV4Error) as mismatch:
        _verify(request, secret="another")
    with pytest.raises(SigV4Error) as unknown:
        _verify(request, secret=None)
    assert (mismatch.value.refusal, unknown.value.refusal) == (Refusal.MISMATCH, Refusal.UNKNOWN_KEY)
    assert mismatch.value.public == unknown.value.public  # a caller cannot tell the two apart
    tampered = SignedRequest(request.method, request.raw_path, b"", request.headers, request.body + b" ")
    with pytest.raises(SigV4Error, match="mismatch"):
        _verify(tampered)
    cases = {
        Refusal.SCOPE: [(_signed(region="eu-west-1"), SigV4Policy("kms-xks-proxy", frozenset({"us-east-1"}))),
                        (_signed(service="kms"), None)],
        Refusal.SKEW: [(_signed(at=datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=301)), None)],
    }  # fmt: skip
    for refusal, items in cases.items():
        for req, policy in items:
            with pytest.raises(SigV4Error) as exc:
                _verify(req, policy)
            assert exc.value.refusal is refusal
    headers = [(k, v) for k, v in request.headers if k != b"authorization"]
    for header in (b"", b"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00"):
        with pytest.raises(SigV4Error):
            _verify(SignedRequest("POST", request.raw_path, b"", [*headers, (b"authorization", header)], request.body))
    assert "secret" not in repr(SigV4Error(Refusal.MISMATCH, "signature mismatch"))


def test_the_specifications_cdiv_example():
    """Appendix C: 33 bytes of AAD, 13 of metadata, 12 of IV, 12 of ciphertext, 16 of tag."""
    aad = b"project=nile,department=marketing"
    out = XksCiphertext(
        ciphertext=base64.b64decode("ghxkK1txeDNn3q8Y"),
        iv=base64.b64decode("HMrlRw85cAJUd5Ax"),
        tag=base64.b64decode("vBxN2ncH1oEkR8WVXpmyYQ=="),
        metadata=base64.b64decode("a2V5X3ZlcnNpb249MQ=="),
        integrity_value=None,
    )
    assert base64.b64encode(integrity_value(aad, out)).decode() == "qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc="


def test_the_tokens_aad_has_both_lengths():
    assert token_aad(b"", b"") == b"\x00\x00\x00"
    assert token_aad(b"ab", b"\x01\x00\x00\x00\x02") == b"\x00\x02ab\x05\x01\x00\x00\x00\x02"
    assert token_aad(b"", b"M") != token_aad(b"M", b"")  # the specification's example of a swap


def test_names():
    assert names.normalize_prefix("") == "" and names.normalize_prefix("/") == ""
    assert names.normalize_prefix("a/b-c_D9") == names.normalize_prefix("/a/b-c_D9") == "/a/b-c_D9"
    for bad in ("a//b", "a/", "//a", "a b", "a.b", "kms/xks/v1", "a/kms/xks/v1/b", "x" * 117):
        with pytest.raises(ValueError):
            names.normalize_prefix(bad)
    assert names.parse_usage("decrypt, encrypt") == ("ENCRYPT", "DECRYPT") and names.parse_usage("NONE") == ()
    ak, sk = names.credential_from_random(bytes(range(47)))
    assert names.ACCESS_KEY_ID.fullmatch(ak) and 43 <= len(sk) <= 64


def test_the_dialect_names_every_error_as_the_specification_does():
    dialect = XksDialect()
    assert len(STATUS) == 12 and set(STATUS) == set(XksName)
    expected = {
        Err.INVALID_URL: (404, "InvalidUriPathException"),
        Err.INVALID_JSON: (400, "ValidationException"),
        Err.SIGNATURE_INVALID: (401, "AuthenticationFailedException"),
        Err.OPERATION_DENIED: (403, "AccessDeniedException"),
        Err.KEY_NOT_FOUND: (404, "KeyNotFoundException"),
        Err.KEY_USAGE_MISMATCH: (400, "InvalidKeyUsageException"),
        Err.KEY_DISABLED: (400, "InvalidStateException"),
        Err.KEY_PENDING_DELETION: (400, "InvalidStateException"),
        Err.KEY_PENDING_IMPORT: (400, "InvalidStateException"),
        Err.INVALID_CIPHER_TEXT: (400, "InvalidCiphertextException"),
        Err.HSM_IO: (500, "InternalException"),
        Err.INTERNAL: (500, "InternalException"),
    }
    for err, answer in expected.items():
        wire = dialect.render(KmsError(err))
        assert (wire.status, wire.code) == answer, err
    throttled = dialect.render(RateLimited(2.0))
    assert (throttled.status, throttled.code) == (429, "ThrottlingException")
    for err in Err:  # every meaning has an XKS name and a printable message
        wire = dialect.render(KmsError(err, "détail\n" + "x" * 600))
        assert wire.code in {n.value for n in XksName} and len(wire.message) < 512
        assert all(" " <= ch <= "~" for ch in wire.message)
    assert printable("a\u00e9\tb") == "a??b"


def test_routes():
    assert match("/kms/xks/v1/health") == ("", ops.XKS_GET_HEALTH_STATUS, "")
    assert match("/a/b/kms/xks/v1/keys/k.1/decrypt") == ("/a/b", ops.XKS_DECRYPT, "k.1")
    for path in ("/kms/xks/v1", "/kms/xks/v1/", "/kms/xks/v2/health", "/p/kms/xks/v1/keys/k", "/p/kms/xks/v1/keys/k/x"):
        assert match(path) is None, path


def test_impossible_dates_are_malformed():
    request = _signed()
    good = dict(request.headers)
    amz_date = good[b"x-amz-date"].decode()
    for bad in (amz_date[:4] + "1332" + amz_date[8:], amz_date[:9] + "250000Z", amz_date[:4] + "0230" + amz_date[8:]):
        headers = [(k, bad.encode() if k == b"x-amz-date" else v) for k, v in request.headers]
        auth = dict(headers)[b"authorization"].decode().replace(f"/{amz_date[:8]}/", f"/{bad[:8]}/")
        headers = [(k, auth.encode() if k == b"authorization" else v) for k, v in headers]
        with pytest.raises(SigV4Error) as exc:
            _verify(SignedRequest("POST", request.raw_path, b"", headers, request.body))
        assert exc.value.refusal is Refusal.MALFORMED, bad
