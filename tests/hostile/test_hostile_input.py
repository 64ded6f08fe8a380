"""Hostile input on both transports: bad input gets a clear 4xx / INVALID_ARGUMENT, never a 500,
INTERNAL, UNKNOWN, a trace, a hang or a plain-text answer, and nothing secret reaches the logs.

Regression tests of what a fuzzing session (schemathesis, hand-written raw HTTP and gRPC) found:

* identifiers with a trailing newline passed ``^...$`` patterns (an alias ``"a\\n"`` was stored);
* a gRPC request that is not a valid protobuf (or holds invalid UTF-8) ended UNKNOWN, no KMS code;
* uvicorn held a connection whose head or body never completed forever, buffered heads of any
  size, and answered an unparsable request in ``text/plain``.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.rest import app as app_module
from gateway.rest.protocol import MAX_HEAD_BYTES, GatewayHttpProtocol
from gateway.telemetry.logs import JsonFormatter
from tests.support.gateway import kms_code, new_project_id
from tests.support.rest import Rest, error_of

SERVICE = pb.DESCRIPTOR.services_by_name["KeyManagementService"]


@pytest.fixture(scope="module")
def project(gateway) -> str:
    return new_project_id()


@pytest.fixture(scope="module")
def token(gateway, project: str) -> str:
    return gateway.token(project)


@pytest.fixture(scope="module")
def rest(gateway, project: str, token: str) -> Iterator[Rest]:
    client = Rest(gateway.rest_url, project, token=token)
    yield client
    client.close()


@pytest.fixture(scope="module")
def key_id(rest: Rest) -> str:
    return rest.create_key()


def _expect(resp: Any, status: int, code: str) -> None:
    assert error_of(resp) == (status, code), resp.text


# -- identifiers: the whole value must match, a trailing newline included -----------------------
def test_trailing_newline_is_not_part_of_a_valid_identifier(rest: Rest, key_id: str) -> None:
    _expect(rest.call("/describe-key", {"key_id": key_id + "\n"}), 400, "KMS.0205")
    _expect(rest.call("/create-key", {"key_alias": f"nl-{uuid.uuid4().hex[:8]}\n"}), 400, "KMS.1101")
    _expect(rest.call("/create-key", {"key_alias": f"nl-{uuid.uuid4().hex[:8]}", "realm": "r\n"}), 400, "KMS.1102")
    _expect(rest.call("/update-key-alias", {"key_id": key_id, "key_alias": "renamed\n"}), 400, "KMS.1101")
    grant = {"key_id": key_id, "grantee_principal": "abc\n", "operations": ["describe-key"]}
    _expect(rest.call("/create-grant", grant), 400, "KMS.2402")
    grant = {"key_id": key_id, "grantee_principal": "abc", "operations": ["describe-key"], "name": "n\n"}
    _expect(rest.call("/create-grant", grant), 400, "KMS.0308")
    _expect(rest.call("/revoke-grant", {"key_id": key_id, "grant_id": "a" * 64 + "\n"}), 404, "KMS.2501")


def test_trailing_newline_over_grpc(gateway, token: str) -> None:
    kms = gateway.stub(token)
    with pytest.raises(grpc.RpcError) as err:
        kms.CreateKey(pb.CreateKeyRequest(key_alias=f"nl-{uuid.uuid4().hex[:8]}\n"))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert kms_code(err.value) == "KMS.1101"


# -- hostile JSON -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 100_000, "KMS.0202"),
        (b'{"a":' * 100_000, "KMS.0202"),
        (b'{"key_alias": ' + b"[" * 5000 + b"]" * 5000 + b"}", "KMS.0202"),
        (b'{"random_data_length": 1e309}', "KMS.1801"),
        (b'{"random_data_length": -0}', "KMS.1801"),
        (b'{"random_data_length": ' + b"9" * 5000 + b"}", "KMS.0202"),
        (b'{"random_data_length": NaN}', "KMS.1801"),
        (b'{"random_data_length": "\\u0038"}', None),  # "8" escaped: fine
        (b'{"random_data_length": "\xef\xbc\x98"}', "KMS.1801"),  # fullwidth 8
        (b'{"random_data_length": "8", "random_data_length": 8}', "KMS.1801"),  # the last one wins
        (b'{"random_data_length": "\\ud800"}', "KMS.0202"),
        (b'{"random_data_length": "\xed\xa0\x80"}', "KMS.0202"),
        (b'\xef\xbb\xbf{"random_data_length": "8"}', "KMS.0202"),
        ('{"random_data_length": "8"}'.encode("utf-16"), "KMS.0202"),
    ],
    ids=[
        "100k-brackets",
        "100k-objects",
        "deep-unknown-field",
        "1e309",
        "minus-zero",
        "5000-digit-int",
        "NaN",
        "escaped-digit",
        "fullwidth-digit",
        "duplicate-key",
        "lone-surrogate-escape",
        "encoded-surrogate",
        "utf8-bom",
        "utf16",
    ],
)
def test_hostile_json(rest: Rest, body: bytes, code: str | None) -> None:
    resp = rest.call("/gen-random", body)
    if code is None:
        assert resp.status_code == 200, resp.text
    else:
        _expect(resp, 400, code)


@pytest.mark.parametrize(
    "context",
    [{"a": {"b": "c"}}, {"a": 1}, {"a": None}, ["a"], "a", {f"k{i}": "v" for i in range(10_000)}, {"a": "x" * 10_000}],
    ids=["nested", "int", "null", "array", "string", "10k-keys", "10k-value"],
)
def test_bad_encryption_context(rest: Rest, key_id: str, context: Any) -> None:
    _expect(rest.call("/create-datakey", {"key_id": key_id, "encryption_context": context}), 400, "KMS.0208")


def test_odd_strings_are_values_not_faults(rest: Rest, key_id: str) -> None:
    """NUL, RTL override and multibyte text are data: accepted where free text is, refused elsewhere."""
    context = {"\u0000": "\u202e\u0000", "": "😀"}
    dk = rest.ok("/create-datakey", {"key_id": key_id, "encryption_context": context})
    back = {"key_id": key_id, "cipher_text": dk["cipher_text"], "datakey_cipher_length": "32"}
    assert rest.ok("/decrypt-datakey", {**back, "encryption_context": context})["data_key"] == dk["plain_text"]
    _expect(rest.call("/decrypt-datakey", {**back, "encryption_context": {"\u0000": "\u202e"}}), 400, "KMS.2201")
    assert rest.ok("/describe-key", {"key_id": key_id, "sequence": "é" * 36})["key_info"]["key_id"] == key_id
    _expect(rest.call("/describe-key", {"key_id": key_id, "sequence": "😀" * 35}), 400, "KMS.0206")
    _expect(rest.call("/describe-key", {"key_id": key_id.upper()}), 400, "KMS.0205")
    _expect(rest.call("/describe-key", {"key_id": f" {key_id}"}), 400, "KMS.0205")
    _expect(rest.call(f"/{key_id}/tags", {"tag": {"key": "a\u0001", "value": "v"}}), 400, "KMS.0406")
    _expect(rest.call("/create-key", {"key_alias": "a\u0000b"}), 400, "KMS.1101")


def test_binary_encodings(rest: Rest, key_id: str) -> None:
    dk = rest.ok("/create-datakey", {"key_id": key_id})
    data = rest.ok("/encrypt-data", {"key_id": key_id, "plain_text": "hello"})["cipher_text"]
    for bad in ("abc", "zz", dk["cipher_text"] + "0", "0x00", "\uff21\uff22"):
        body = {"key_id": key_id, "cipher_text": bad, "datakey_cipher_length": "32"}
        _expect(rest.call("/decrypt-datakey", body), 400, "KMS.2201")
    body = {"key_id": key_id, "cipher_text": dk["cipher_text"].lower(), "datakey_cipher_length": "32"}
    assert rest.ok("/decrypt-datakey", body)["data_key"] == dk["plain_text"]
    for bad in (data.rstrip("="), data + "=", data.replace("+", "-").replace("/", "_") + "-_", data + "\n", "A"):
        if bad != data:
            _expect(rest.call("/decrypt-data", {"cipher_text": bad}), 400, "KMS.0308")


# -- generated bodies (hypothesis, derandomized: the same cases every run) ----------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_FIELDS = ["key_id", "key_alias", "plain_text", "cipher_text", "encryption_context", "datakey_length", "sequence"]
_OPS = ["/create-datakey", "/encrypt-data", "/decrypt-datakey", "/update-key-alias", "/sign", "/create-grant"]


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(op=st.sampled_from(_OPS), body=st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=5))
def test_generated_bodies_get_a_4xx_envelope(rest: Rest, op: str, body: dict[str, Any]) -> None:
    resp = rest.call(op, json.dumps(body).encode())  # validated against the OpenAPI document
    assert resp.status_code < 500, resp.text


# -- raw HTTP: framing, heads, deadlines --------------------------------------------------------
def _exchange(gateway, data: bytes, timeout: float = 10, piece: int = 0) -> tuple[bytes, float]:
    """Send raw bytes (in ``piece``-byte writes if set), read until the server closes;
    (what came back, seconds it took)."""
    start = time.monotonic()
    step = piece or max(len(data), 1)
    with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=timeout) as sock:
        try:
            for i in range(0, len(data), step):
                sock.sendall(data[i : i + step])
                if piece:
                    time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out, time.monotonic() - start


def _envelope(raw: bytes) -> tuple[int, str, dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers.get("x-request-id"), head
    assert headers.get("content-type", "").startswith("application/json"), head
    doc = json.loads(body[: int(headers["content-length"])])
    assert set(doc) == {"error"} and set(doc["error"]) == {"error_code", "error_msg"}, doc
    return int(lines[0].split(" ")[1]), doc["error"]["error_code"], headers


def _request(project: str, token: str, body: bytes, *, length: int | None = None, extra: str = "") -> bytes:
    head = (
        f"POST /v1.0/{project}/kms/gen-random HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) if length is None else length}\r\n{extra}\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff" * 64 + b"\r\n\r\n",
        b"POST /v1.0/p/kms/gen-random HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1.0/p/kms/gen-random HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"POST /v1.0/p/kms/gen-random HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"POST /v1.0/p/kms/gen-random\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
    ids=["garbage", "negative-length", "two-lengths", "bad-chunk-size", "nul-in-target", "h2-preface"],
)
def test_unparsable_request_gets_the_envelope(gateway, raw: bytes) -> None:
    out, _ = _exchange(gateway, raw)
    status, code, headers = _envelope(out)
    assert (status, code) == (400, "KMS.0308")
    assert headers.get("connection") == "close"


def test_oversized_head_is_refused(gateway, project: str, token: str) -> None:
    """Counted over the reads that leave a head unfinished: sent in 8 KiB writes, as over a network."""
    raw = _request(project, token, b"{}", extra=f"X-Big: {'a' * (4 * MAX_HEAD_BYTES)}\r\n")
    status, code, _ = _envelope(_exchange(gateway, raw, piece=8192)[0])
    assert (status, code) == (400, "KMS.0203")


def test_large_body_with_small_head_is_not_a_large_head(gateway, project: str, token: str) -> None:
    """Head and a 300 KB body arrive in one read: the body does not count against the head limit."""
    body = json.dumps({"random_data_length": "8", "pad": "x" * 300_000}).encode()
    raw = _request(project, token, body) * 2 + _request(project, token, body, extra="Connection: close\r\n")
    out, _ = _exchange(gateway, raw)
    assert out.count(b"HTTP/1.1 200 OK") == 3, out[:300]


@pytest.fixture
def short_deadlines(monkeypatch) -> float:
    monkeypatch.setattr(GatewayHttpProtocol, "head_timeout", 0.5)
    monkeypatch.setattr(app_module, "BODY_TIMEOUT_S", 0.5)
    return 0.5


def test_partial_head_times_out_with_the_envelope(gateway, short_deadlines: float) -> None:
    out, took = _exchange(gateway, b"POST /v1.0/p/kms/gen-random HTTP/1.1\r\nHost: x\r\n")
    assert (_envelope(out)[:2], took < 5) == ((400, "KMS.0308"), True)


def test_idle_connection_is_closed(gateway, short_deadlines: float) -> None:
    out, took = _exchange(gateway, b"")
    assert (out, took < 5) == (b"", True)


@pytest.mark.parametrize("shape", ["length-longer-than-body", "chunked-never-ends"])
def test_body_that_never_completes_times_out(gateway, project: str, token: str, short_deadlines, shape: str) -> None:
    if shape == "length-longer-than-body":
        raw = _request(project, token, b'{"random_data_length": "8"}', length=200)
    else:
        head = _request(project, token, b"").replace(b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n")
        raw = head + b"5\r\n{}"
    out, took = _exchange(gateway, raw)
    status, code, headers = _envelope(out)
    assert (status, code, headers.get("connection"), took < 5) == (400, "KMS.0202", "close", True)


def test_slow_but_steady_client_is_served(gateway, project: str, token: str) -> None:
    """The deadlines bound a whole head or body, not the pace: a client trickling bytes is fine."""
    raw = _request(project, token, b'{"random_data_length": "8"}', extra="Connection: close\r\n")
    with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=10) as sock:
        for i in range(0, len(raw), 64):
            sock.sendall(raw[i : i + 64])
            time.sleep(0.002)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 200 OK"), out[:200]


# -- gRPC: undecodable messages and hostile field values ----------------------------------------
_GARBAGE = [
    b"\xff" * 16,  # invalid tags
    b"\x0a\x05abc",  # a length past the end
    b"\x0a\x80\x80\x80\x80\x10",  # a varint length of 2**32
    b"\x07",  # an end-group tag with no group
]


@pytest.mark.parametrize("method", [m.name for m in SERVICE.methods])
def test_undecodable_grpc_message_is_invalid_argument(gateway, token: str, method: str) -> None:
    channel = grpc.insecure_channel(gateway.grpc_target)
    call = channel.unary_unary(f"/{SERVICE.full_name}/{method}", request_serializer=None, response_deserializer=None)
    md = (("x-auth-token", token),)
    string_field = next(
        (f.number for f in SERVICE.methods_by_name[method].input_type.fields if f.type == f.TYPE_STRING), None
    )
    payloads = _GARBAGE + ([bytes([string_field << 3 | 2, 2, 0xC3, 0x28])] if string_field else [])
    try:
        for payload in payloads:
            with pytest.raises(grpc.RpcError) as err:
                call(payload, metadata=md, timeout=10)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, (payload, err.value.details())
            assert kms_code(err.value) == "KMS.0308", payload
        with pytest.raises(grpc.RpcError) as err:  # authentication still comes first
            call(_GARBAGE[0], timeout=10)
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()


@pytest.mark.parametrize(
    "value", ["\x00", "\x1b[31m\r\n", "\u202e", "x" * (1 << 20), "😀" * 36], ids=["nul", "ctl", "rtl", "1MB", "emoji"]
)
def test_hostile_grpc_strings(gateway, token: str, key_id: str, value: str) -> None:
    kms = gateway.stub(token)
    calls = [
        lambda: kms.CreateKey(pb.CreateKeyRequest(key_alias=value)),
        lambda: kms.CreateKey(pb.CreateKeyRequest(key_alias="x", key_spec=value)),
        lambda: kms.DescribeKey(pb.KeyIdRequest(key_id=value)),
        lambda: kms.UpdateKeyDescription(pb.UpdateKeyDescriptionRequest(key_id=key_id, key_description=value)),
        lambda: kms.CreateKeyTag(pb.CreateKeyTagRequest(key_id=key_id, tag=pb.TagItem(key=value, value=value))),
        lambda: kms.Sign(pb.SignRequest(key_id=key_id, message=b"m", signing_algorithm=value)),
        lambda: kms.CreateGrant(pb.CreateGrantRequest(key_id=key_id, grantee_principal=value, operations=[value])),
    ]
    for call in calls:
        try:
            call()
        except grpc.RpcError as err:
            assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), err.details()
            assert kms_code(err).startswith("KMS."), err.details()


def test_hostile_grpc_numbers_and_bytes(gateway, token: str, key_id: str) -> None:
    kms = gateway.stub(token)
    for bits in (-1, -(2**31), 2**31 - 1, 0, 9):
        with pytest.raises(grpc.RpcError) as err:
            kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=bits))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    for days in (-1, 2**31 - 1):
        with pytest.raises(grpc.RpcError) as err:
            kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=days))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    for blob in (b"", b"\x00" * 4097, b"\xff" * ((4 << 20) - 64)):
        with pytest.raises(grpc.RpcError) as err:
            kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=blob))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            kms.DecryptData(pb.DecryptDataRequest(cipher_text=blob))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, err.value.details()


# -- secrets never reach the logs ---------------------------------------------------------------
class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_no_secret_reaches_the_logs(gateway) -> None:
    project = new_project_id()
    token = gateway.token(project)
    creds = gateway.credentials(project)
    capture = _Capture()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        rest = Rest(gateway.rest_url, project, token=token)
        key = rest.create_key()
        dk = rest.ok("/create-datakey", {"key_id": key})
        rest.call("/decrypt-datakey", {"key_id": key, "cipher_text": dk["cipher_text"], "datakey_cipher_length": "9"})
        rest.call(
            "/encrypt-datakey", {"key_id": key, "plain_text": dk["plain_text"] + "0", "datakey_plain_length": "1"}
        )
        rest.call("/create-key", b"[" * 100_000)
        rest.close()
        Rest(gateway.rest_url, project, token=token + "x").call("/list-keys", {})
        signed = Rest(gateway.rest_url, project, creds=creds)
        signed.call("/list-keys", {})
        signed.close()
        kms = gateway.stub(token)
        with pytest.raises(grpc.RpcError):
            kms.EncryptDataKey(pb.EncryptDataKeyRequest(key_id=key, plain_text=bytes.fromhex(dk["plain_text"])))
        _exchange(gateway, _request(project, token, b"\xff" * 10, extra="X-Auth-Token: " + token + "\r\n"))
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    text = "\n".join(capture.lines)
    pins = [(gateway.rt.config.data_dir / name).read_text().strip() for name in ("hsm.pin", "so.pin")]
    for secret in [
        token,
        token.split(".", 1)[1],
        creds["secret_key"],
        dk["plain_text"],
        dk["plain_text"].lower(),
        *pins,
    ]:
        assert secret not in text
