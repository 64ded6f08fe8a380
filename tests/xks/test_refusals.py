"""Requests the HTTP parser refuses before any app sees them (a malformed or oversized head, a bad
Content-Length, a head that never ends) are answered in the shape of the transport the head so far
belongs to: XKS's ``{errorName, errorMessage}`` on a path holding /kms/xks/v1, AWS's
``{__type, message}`` with X-Amz-Target, the REST envelope otherwise — and always XKS's on XKS's own
listener. Real `kmsgw serve --xks --aws` processes; raw sockets, since no client sends these."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.rest.protocol import MAX_HEAD_BYTES
from tests.support.serve import ServeProcess, start_serve

XKS_PATH = b"/ks/kms/xks/v1/keys/k1/encrypt"
BAD_HEADS = {
    "negative-length": b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: -1\r\n\r\n",
    "two-lengths": b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "bad-chunk-size": b"POST %s HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "nul-in-header": b"POST %s HTTP/1.1\r\nHost: x\r\n%sX-Bad: a\x00b\r\n\r\n",
}
AWS_TARGET = b"X-Amz-Target: TrentService.GenerateDataKey\r\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One process with XKS on the HTTP listener and the AWS API in front of it."""
    srv = start_serve(tmp_path_factory.mktemp("refusals") / "var", "--xks", "--aws", "--workers", "1")
    yield srv
    assert srv.terminate() == 0


def exchange(port: int, raw: bytes, piece: int = 0) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` (in ``piece``-byte writes if given), read to EOF: status, headers, body."""
    step = piece or max(len(raw), 1)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            for i in range(0, len(raw), step):
                sock.sendall(raw[i : i + step])
                if piece:
                    time.sleep(0.001)  # as over a network: the server reads the head in several pieces
        except (BrokenPipeError, ConnectionResetError):  # refused while still sending: read the answer
            pass
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:  # the server closed with our surplus unread: what came is all
                break
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("shape", sorted(BAD_HEADS))
def test_an_xks_path_gets_the_xks_shape(gateway: ServeProcess, shape: str) -> None:
    status, headers, body = exchange(gateway.http_port, BAD_HEADS[shape] % (XKS_PATH, b""))
    assert (status, json.loads(body)["errorName"]) == (400, "ValidationException")
    assert set(json.loads(body)) == {"errorName", "errorMessage"}
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"


@pytest.mark.parametrize("shape", sorted(BAD_HEADS))
def test_an_aws_request_gets_the_aws_shape(gateway: ServeProcess, shape: str) -> None:
    status, headers, body = exchange(gateway.http_port, BAD_HEADS[shape] % (b"/", AWS_TARGET))
    assert (status, json.loads(body)["__type"]) == (400, "ValidationException")
    assert headers["content-type"] == "application/x-amz-json-1.1" and headers["x-amzn-requestid"]


@pytest.mark.parametrize("shape", sorted(BAD_HEADS))
def test_a_rest_path_keeps_the_rest_envelope(gateway: ServeProcess, shape: str) -> None:
    status, headers, body = exchange(gateway.http_port, BAD_HEADS[shape] % (b"/v1.0/p/kms/gen-random", b""))
    assert (status, json.loads(body)["error"]["error_code"]) == (400, "KMS.0308")
    assert headers["x-request-id"]


def test_an_oversized_head_on_an_xks_path(gateway: ServeProcess) -> None:
    raw = b"POST %s HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % (XKS_PATH, b"a" * (4 * MAX_HEAD_BYTES))
    status, _, body = exchange(gateway.http_port, raw, piece=8192)
    assert (status, json.loads(body)["errorName"]) == (400, "ValidationException")
    assert "head exceeds" in json.loads(body)["errorMessage"]


def test_garbage_before_any_path_gets_the_listeners_default(gateway: ServeProcess) -> None:
    """Nothing says whose the request is: the HTTP listener's own (REST) envelope."""
    status, _, body = exchange(gateway.http_port, b"\xff" * 64 + b"\r\n\r\n")
    assert (status, json.loads(body)["error"]["error_code"]) == (400, "KMS.0308")


def test_xks_own_listener_answers_every_refusal_in_the_xks_shape(tmp_path: Path) -> None:
    srv = start_serve(tmp_path / "var", "--xks", "--xks-listen", "127.0.0.1:0", "--workers", "1")
    try:
        xks_port = next(r["xks_port"] for r in srv.log_lines if r.get("msg") == "serving")
        for raw in (b"\xff" * 64 + b"\r\n\r\n", BAD_HEADS["two-lengths"] % (b"/anything", b"")):
            status, _, body = exchange(xks_port, raw)
            assert (status, json.loads(body)["errorName"]) == (400, "ValidationException"), body
    finally:
        assert srv.terminate() == 0
