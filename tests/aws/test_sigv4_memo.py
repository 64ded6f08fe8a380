"""The SigV4 verifier checks each header field once per distinct text (gateway/sigv4/verifier.py): the
memos must never turn a refusal into an acceptance, never outlive the skew, and stay bounded."""

from __future__ import annotations

import calendar
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.sigv4 import Refusal, SignedRequest, SigV4Error, SigV4Policy, SigV4Verifier
from gateway.sigv4 import verifier as verifier_module

AK, SECRET = "AKIAEXAMPLE", "secret"


def _signed(service: str = "kms") -> tuple[SignedRequest, float]:
    request = AWSRequest("POST", "http://127.0.0.1:1/", data=b"{}", headers={"X-Amz-Target": "TrentService.ListKeys"})
    SigV4Auth(Credentials(AK, SECRET), service, "us-east-1").add_auth(request)
    headers = [(b"host", b"127.0.0.1:1")] + [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    stamp = calendar.timegm(time.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    return SignedRequest("POST", b"/", b"", headers, b"{}"), float(stamp)


def _refusal(verifier: SigV4Verifier, request: SignedRequest, now: float) -> Refusal:
    with pytest.raises(SigV4Error) as exc:
        verifier.verify(request, verifier.parse(request, now), SECRET)
    return exc.value.refusal


def test_a_memoized_request_is_still_checked_every_time() -> None:
    verifier = SigV4Verifier(SigV4Policy("kms"))
    request, stamp = _signed()
    for _ in range(3):  # accepted, then answered from the memos
        verifier.verify(request, verifier.parse(request, stamp), SECRET)
    assert _refusal(verifier, request, stamp + 301) is Refusal.SKEW  # the X-Amz-Date memo holds no verdict
    with pytest.raises(SigV4Error) as exc:
        verifier.verify(request, verifier.parse(request, stamp), "another secret")
    assert exc.value.refusal is Refusal.MISMATCH
    tampered = SignedRequest(request.method, request.raw_path, request.raw_query, request.headers, b'{"x":1}')
    assert _refusal(verifier, tampered, stamp) is Refusal.MISMATCH


def test_a_refused_field_stays_refused() -> None:
    verifier = SigV4Verifier(SigV4Policy("kms"))
    request, stamp = _signed(service="s3")
    for _ in range(2):
        with pytest.raises(SigV4Error) as exc:
            verifier.parse(request, stamp)
        assert exc.value.refusal is Refusal.SCOPE
    assert verifier._scopes == {}  # refusals are not remembered


def test_the_memos_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifier_module, "_MAX_MEMO", 4)
    verifier = SigV4Verifier(SigV4Policy("kms"))
    for day in range(1, 11):
        with pytest.raises(SigV4Error):  # each a new X-Amz-Date text, each too old
            verifier.parse(_with_date(_signed()[0], f"202001{day:02d}T000000Z"), time.time())
    assert 0 < len(verifier._stamps) <= 4


def _with_date(request: SignedRequest, amz_date: str) -> SignedRequest:
    headers = [(k, amz_date.encode() if k == b"x-amz-date" else v) for k, v in request.headers]
    headers = [
        (k, v.replace(v.split(b"Credential=")[1].split(b"/")[1], amz_date[:8].encode()) if k == b"authorization" else v)
        for k, v in headers
    ]
    return SignedRequest(request.method, request.raw_path, request.raw_query, headers, request.body)
