"""The REST signature verifier against requests signed by the official SDK.

Requests are produced by driving the real, unmodified ``KmsClient`` at a tiny Starlette echo app
on 127.0.0.1 that records each request as received on the wire (raw path, raw query string, raw
headers, body); the verifier then checks those. A few cases the client cannot produce (unsigned
payloads, repeated query keys) are signed with the SDK's own ``Signer``. No HSM is involved.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.rest.aksk_signatures import (
    SignatureError,
    SignedRequest,
    StaleRequestError,
    compute_signature,
    parse_authorization,
    parse_sdk_date,
    verify,
)

AK = "HPUATESTACCESSKEY0001"
SK = "test-secret-key/0123456789+abcdefghijklmnop"
PROJECT = "0123456789abcdef0123456789abcdef"
KEY_ID = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- echo server


@dataclass
class Captured:
    method: str
    raw_path: bytes
    query_string: bytes
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes

    def signed(self) -> SignedRequest:
        return SignedRequest.from_raw(
            self.method, self.raw_path, self.query_string, Headers(raw=self.raw_headers), self.body
        )


class EchoServer:
    """Uvicorn on an ephemeral port; answers ``{}`` to everything and records what it got."""

    def __init__(self) -> None:
        self.captured: list[Captured] = []
        app = Starlette(routes=[Route("/{p:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    async def _handle(self, request: Request) -> Response:
        scope = request.scope
        self.captured.append(
            Captured(
                method=request.method,
                raw_path=scope["raw_path"],
                query_string=scope["query_string"],
                raw_headers=list(scope["headers"]),
                body=await request.body(),
            )
        )
        return Response(b"{}", media_type="application/json")

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("echo server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kms(echo: EchoServer, tmp_path_factory: pytest.TempPathFactory):
    """The real KmsClient, as a user would build it against the gateway."""
    # The SDK stores an application id under $HOME on first use; keep that out of the real home.
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))
    try:
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkkms.v2 import KmsClient

        client = (
            KmsClient.new_builder()
            .with_credentials(BasicCredentials(AK, SK, PROJECT))
            .with_endpoint(f"http://127.0.0.1:{echo.port}")
            .build()
        )
    finally:
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home
    return client


def _m():
    from huaweicloudsdkkms.v2 import model

    return model


CALLS: dict[str, Callable[[object], object]] = {
    "create_key": lambda c: c.create_key(
        _m().CreateKeyRequest(
            body=_m().CreateKeyRequestBody(
                key_alias="gw-test", key_spec="AES_256", key_description='clé ü 鍵 "quoted" /slash'
            )
        )
    ),
    "list_keys": lambda c: c.list_keys(
        _m().ListKeysRequest(body=_m().ListKeysRequestBody(limit="2", marker="1", key_state="2"))
    ),
    "list_key_detail": lambda c: c.list_key_detail(
        _m().ListKeyDetailRequest(body=_m().OperateKeyRequestBody(key_id=KEY_ID))
    ),
    "list_aliases": lambda c: c.list_aliases(_m().ListAliasesRequest(key_id=KEY_ID, limit="10", marker="a b+c/d~e%f")),
    "show_user_instances": lambda c: c.show_user_instances(_m().ShowUserInstancesRequest()),
    "show_kms_tags": lambda c: c.show_kms_tags(_m().ShowKmsTagsRequest(key_id=KEY_ID)),
    "delete_tag": lambda c: c.delete_tag(_m().DeleteTagRequest(key_id=KEY_ID, key="env/prod é")),
    "batch_create_kms_tags": lambda c: c.batch_create_kms_tags(
        _m().BatchCreateKmsTagsRequest(
            key_id=KEY_ID,
            body=_m().BatchCreateKmsTagsRequestBody(tags=[_m().TagItem(key="k1", value="v1")], action="create"),
        )
    ),
}


def capture(echo: EchoServer, kms: object, name: str) -> SignedRequest:
    """Run one SDK call and return what reached the server."""
    before = len(echo.captured)
    CALLS[name](kms)
    assert len(echo.captured) == before + 1
    return echo.captured[-1].signed()


def signed_at(req: SignedRequest) -> datetime:
    (date,) = [v for k, v in req.headers.items() if k.lower() == "x-sdk-date"]
    return parse_sdk_date(date)


def with_header(req: SignedRequest, name: str, value: str | None) -> SignedRequest:
    """A copy of ``req`` with one header replaced (None: removed)."""
    headers = {k.lower(): v for k, v in req.headers.items() if k.lower() != name.lower()}
    if value is not None:
        headers[name.lower()] = value
    return replace(req, headers=headers)


@pytest.fixture(scope="module")
def create_key_req(echo: EchoServer, kms: object) -> SignedRequest:
    return capture(echo, kms, "create_key")


@pytest.fixture(scope="module")
def list_aliases_req(echo: EchoServer, kms: object) -> SignedRequest:
    return capture(echo, kms, "list_aliases")


# --------------------------------------------------------------------------- good signatures


@pytest.mark.parametrize("name", sorted(CALLS))
def test_sdk_requests_verify(echo: EchoServer, kms: object, name: str) -> None:
    req = capture(echo, kms, name)
    verify(req, SK, signed_at(req))


def test_verifies_against_the_real_clock(echo: EchoServer, kms: object) -> None:
    from datetime import UTC

    req = capture(echo, kms, "list_keys")
    verify(req, SK, datetime.now(UTC))
    verify(req, SK, datetime.now(UTC).replace(tzinfo=None))  # naive means UTC


def test_what_the_sdk_sends(create_key_req: SignedRequest, list_aliases_req: SignedRequest) -> None:
    """Pins the wire facts the routes rely on (FIELDS.md quotes them)."""
    h = create_key_req.headers
    assert create_key_req.path == f"/v1.0/{PROJECT}/kms/create-key"
    assert h["content-type"] == "application/json;charset=utf-8"
    assert h["x-project-id"] == PROJECT
    access, signed, _ = parse_authorization(h["authorization"])
    assert access == AK
    assert signed == ["content-type", "host", "user-agent", "x-project-id", "x-sdk-date"]
    assert b"\\u00e9" in create_key_req.body  # ASCII-escaped JSON
    assert list_aliases_req.query == [("key_id", KEY_ID), ("limit", "10"), ("marker", "a b+c/d~e%f")]
    assert list_aliases_req.headers["content-type"] == "application/json"


def test_compute_signature_matches_the_sdk(create_key_req: SignedRequest) -> None:
    _, signed, signature = parse_authorization(create_key_req.headers["authorization"])
    assert compute_signature(create_key_req, SK, signed) == signature


def test_replay_within_window_passes(create_key_req: SignedRequest) -> None:
    t = signed_at(create_key_req)
    verify(create_key_req, SK, t + timedelta(seconds=5))
    verify(create_key_req, SK, t + timedelta(minutes=10))  # same request again, later


def test_unsigned_extra_header_is_ignored(create_key_req: SignedRequest) -> None:
    """Proxies add headers; only the signed ones count."""
    req = with_header(create_key_req, "X-Forwarded-For", "10.0.0.1")
    verify(req, SK, signed_at(req))


def test_encoded_slash_and_slash_sign_alike(echo: EchoServer, kms: object) -> None:
    """The SDK percent-decodes the path before canonicalising it, so "%2F" and "/" are one.

    Routes must therefore read a tag key from the decoded path (a ``{key:path}`` tail),
    or two differently routed requests would share one signature.
    """
    req = capture(echo, kms, "delete_tag")
    assert req.path.endswith("/tags/env%2Fprod%20%C3%A9")
    verify(replace(req, path=req.path.replace("%2F", "/")), SK, signed_at(req))


# --------------------------------------------------------------------------- tampering


def _tampered_create_key(req: SignedRequest) -> dict[str, SignedRequest]:
    t = signed_at(req)
    return {
        "body": replace(req, body=req.body.replace(b"gw-test", b"gw-tesT")),
        "body_appended": replace(req, body=req.body + b" "),
        "body_emptied": replace(req, body=b""),
        "path": replace(req, path=req.path.replace("create-key", "delete-key")),
        "path_project": replace(req, path=req.path.replace(PROJECT, "f" * 32)),
        "path_trailing_segment": replace(req, path=req.path + "/x"),
        "method": replace(req, method="PUT"),
        "query_added": replace(req, query=[("limit", "1")]),
        "x_project_id": with_header(req, "X-Project-Id", "f" * 32),
        "content_type": with_header(req, "Content-Type", "text/plain"),
        "host": with_header(req, "Host", "evil.example:443"),
        "user_agent": with_header(req, "User-Agent", "curl/8"),
        "date_within_window": with_header(req, "X-Sdk-Date", (t + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")),
        "signed_header_removed": with_header(req, "User-Agent", None),
        "signature_flipped": with_header(
            req,
            "Authorization",
            req.headers["authorization"][:-1] + ("0" if req.headers["authorization"][-1] != "0" else "1"),
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "body",
        "body_appended",
        "body_emptied",
        "path",
        "path_project",
        "path_trailing_segment",
        "method",
        "query_added",
        "x_project_id",
        "content_type",
        "host",
        "user_agent",
        "date_within_window",
        "signed_header_removed",
        "signature_flipped",
    ],
)
def test_tampered_request_fails(create_key_req: SignedRequest, case: str) -> None:
    req = _tampered_create_key(create_key_req)[case]
    with pytest.raises(SignatureError) as err:
        verify(req, SK, signed_at(create_key_req))
    assert not isinstance(err.value, StaleRequestError)


def test_wrong_secret_fails_without_leaking(create_key_req: SignedRequest) -> None:
    with pytest.raises(SignatureError) as err:
        verify(create_key_req, SK + "x", signed_at(create_key_req))
    assert err.value.reason == "signature does not match"
    _, signed, _ = parse_authorization(create_key_req.headers["authorization"])
    wrong = compute_signature(create_key_req, SK + "x", signed)
    for secret in (SK, SK + "x", wrong):
        assert secret not in str(err.value)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda q: [(k, "11" if k == "limit" else v) for k, v in q], id="value_changed"),
        pytest.param(lambda q: [(k, v) for k, v in q if k != "marker"], id="param_removed"),
        pytest.param(lambda q: [*q, ("offset", "0")], id="param_added"),
        pytest.param(lambda q: [*q, ("limit", "10")], id="param_repeated"),
        pytest.param(lambda q: [("KEY_ID" if k == "key_id" else k, v) for k, v in q], id="key_renamed"),
        pytest.param(lambda q: [], id="query_dropped"),
    ],
)
def test_altered_query_fails(list_aliases_req: SignedRequest, mutate: Callable) -> None:
    req = replace(list_aliases_req, query=mutate(list(list_aliases_req.query)))
    with pytest.raises(SignatureError):
        verify(req, SK, signed_at(list_aliases_req))


def test_query_order_on_the_wire_does_not_matter(list_aliases_req: SignedRequest) -> None:
    req = replace(list_aliases_req, query=list(reversed(list_aliases_req.query)))
    verify(req, SK, signed_at(list_aliases_req))


# --------------------------------------------------------------------------- time window


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(minutes=15, seconds=1),
        -timedelta(minutes=15, seconds=1),
        timedelta(hours=2),
        -timedelta(days=1),
    ],
)
def test_stale_date_fails(create_key_req: SignedRequest, offset: timedelta) -> None:
    with pytest.raises(StaleRequestError):
        verify(create_key_req, SK, signed_at(create_key_req) + offset)


@pytest.mark.parametrize("offset", [timedelta(minutes=15), -timedelta(minutes=15), timedelta(minutes=14)])
def test_edge_of_window_passes(create_key_req: SignedRequest, offset: timedelta) -> None:
    verify(create_key_req, SK, signed_at(create_key_req) + offset)


def test_custom_skew(create_key_req: SignedRequest) -> None:
    with pytest.raises(StaleRequestError):
        verify(
            create_key_req,
            SK,
            signed_at(create_key_req) + timedelta(seconds=61),
            max_skew=timedelta(minutes=1),
        )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2024-01-02T03:04:05Z",
        "20240102T030405",
        "20241302T030405Z",
        "20240102T030405Z1",
        "\uff120240102T030405Z",
    ],
)
def test_malformed_date_fails(create_key_req: SignedRequest, value: str) -> None:
    req = with_header(create_key_req, "X-Sdk-Date", value)
    with pytest.raises(SignatureError) as err:
        verify(req, SK, signed_at(create_key_req))
    assert not isinstance(err.value, StaleRequestError)


# --------------------------------------------------------------------------- header policy


def _resign(req: SignedRequest, signed: list[str], secret: str = SK) -> SignedRequest:
    """Re-sign ``req`` over a chosen header list (our signer matches the SDK's, tested above)."""
    sig = compute_signature(req, secret, signed)
    value = f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return with_header(req, "Authorization", value)


@pytest.mark.parametrize("dropped", ["host", "x-sdk-date"])
def test_host_and_date_must_be_signed(create_key_req: SignedRequest, dropped: str) -> None:
    signed = [h for h in ["content-type", "host", "x-project-id", "x-sdk-date"] if h != dropped]
    req = _resign(create_key_req, signed)
    with pytest.raises(SignatureError, match="must include"):
        verify(req, SK, signed_at(create_key_req))


def test_minimal_signed_header_set_passes(create_key_req: SignedRequest) -> None:
    req = _resign(create_key_req, ["host", "x-sdk-date"])
    verify(req, SK, signed_at(create_key_req))


def test_missing_authorization_fails(create_key_req: SignedRequest) -> None:
    with pytest.raises(SignatureError, match="missing Authorization"):
        verify(with_header(create_key_req, "Authorization", None), SK, signed_at(create_key_req))


def test_missing_date_fails(create_key_req: SignedRequest) -> None:
    with pytest.raises(SignatureError):
        verify(with_header(create_key_req, "X-Sdk-Date", None), SK, signed_at(create_key_req))


def test_duplicated_signed_header_fails(create_key_req: SignedRequest) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in create_key_req.headers.items()]
    raw.append((b"x-project-id", b"f" * 32))
    req = replace(create_key_req, headers=Headers(raw=raw))
    with pytest.raises(SignatureError, match="more than once"):
        verify(req, SK, signed_at(create_key_req))


def test_plain_dict_headers_any_case(create_key_req: SignedRequest) -> None:
    headers = {k.title(): v for k, v in create_key_req.headers.items()}
    verify(replace(create_key_req, headers=headers), SK, signed_at(create_key_req))


# --------------------------------------------------------------------------- Authorization parsing


def test_parse_authorization_ok() -> None:
    sig = "ab" * 32
    value = f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={sig}"
    assert parse_authorization(value) == (
        "AK1",
        ["host", "x-sdk-date"],
        sig,
    )
    # parameter order and spacing are free
    assert parse_authorization(f"SDK-HMAC-SHA256 Signature={sig},SignedHeaders=host,Access=AK1")[0] == "AK1"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer abc",
        "SDK-HMAC-SM3 Access=AK1, SignedHeaders=host, Signature=" + "ab" * 32,
        "V11-HMAC-SHA256 Credential=AK1/20240101/r/kms, SignedHeaders=host, Signature=" + "ab" * 32,
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=" + "AB" * 32,
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=" + "ab" * 31,
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=Host;x-sdk-date, Signature=" + "ab" * 32,
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;;x-sdk-date, Signature=" + "ab" * 32,
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;host, Signature=" + "ab" * 32,
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=" + "ab" * 32,
        "SDK-HMAC-SHA256 Access=AK1, Access=AK2, SignedHeaders=host, Signature=" + "ab" * 32,
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=" + "ab" * 32 + ", Extra=1",
        "SDK-HMAC-SHA256 Access=AK1,\nSignedHeaders=host, Signature=" + "ab" * 32,
    ],
)
def test_parse_authorization_rejects(value: str) -> None:
    with pytest.raises(SignatureError):
        parse_authorization(value)


# --------------------------------------------------------------------------- SDK signer, direct


def _sdk_sign(method: str, path: str, query: list, headers: dict, body: bytes | None):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    sdk_req = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8080",
        resource_path=path,
        query_params=query,
        header_params=dict(headers),
        body=body,
    )
    Signer(BasicCredentials(AK, SK, PROJECT)).sign(sdk_req)
    raw_path, _, raw_query = sdk_req.uri.partition("?")
    return SignedRequest.from_raw(method, raw_path, raw_query, sdk_req.header_params, sdk_req.body or b"")


def test_repeated_query_keys_in_sdk_order() -> None:
    """The SDK sorts typed values (9 before 10) and sends them in that order."""
    req = _sdk_sign(
        "GET",
        f"/v1.0/{PROJECT}/kms/x",
        [("k", 10), ("k", 9), ("a", "x y")],
        {"Content-Type": "application/json"},
        None,
    )
    assert req.query == [("a", "x y"), ("k", "9"), ("k", "10")]
    verify(req, SK, signed_at(req))
    with pytest.raises(SignatureError):
        verify(replace(req, query=[("a", "x y"), ("k", "9")]), SK, signed_at(req))


def test_unsigned_payload_is_refused() -> None:
    """A non-JSON content type makes the SDK sign UNSIGNED-PAYLOAD: the body would be unprotected."""
    req = _sdk_sign(
        "POST",
        f"/v1.0/{PROJECT}/kms/create-key",
        [],
        {"Content-Type": "application/octet-stream"},
        b'{"key_alias": "a"}',
    )
    assert req.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    with pytest.raises(SignatureError, match="unsigned"):
        verify(req, SK, signed_at(req))


def test_declared_content_hash_must_match_body() -> None:
    body = b'{"key_alias": "a"}'
    headers = {"Content-Type": "application/json", "X-Sdk-Content-Sha256": hashlib.sha256(body).hexdigest()}
    req = _sdk_sign("POST", f"/v1.0/{PROJECT}/kms/create-key", [], headers, body)
    verify(req, SK, signed_at(req))
    with pytest.raises(SignatureError, match="does not match the body"):
        verify(replace(req, body=b'{"key_alias": "b"}'), SK, signed_at(req))


def test_empty_path_segments_and_unicode_path() -> None:
    req = _sdk_sign(
        "DELETE",
        f"/v1.0/{PROJECT}/kms/{KEY_ID}/tags/%E9%8D%B5%20x",
        [],
        {"Content-Type": "application/json"},
        None,
    )
    verify(req, SK, signed_at(req))


# --------------------------------------------------------------------------- packaging


def test_verifier_does_not_import_the_sdk() -> None:
    code = (
        "import sys, gateway.rest.aksk_signatures; "
        "bad = [m for m in sys.modules if m.startswith('huaweicloud')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
