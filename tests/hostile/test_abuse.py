"""Raw abuse of a real ``kmsgw serve`` process, and a normal client served promptly meanwhile.

What ``test_hostile_input.py`` already covers (deep JSON, odd numbers, unparsable heads, a head
over the limit sent in 8 KiB writes, one trickling head or body) is not repeated. Here:

* bodies just under and over the 1 MiB limit (declared and chunked), NUL bytes and invalid
  UTF-8 in the body, the path and the headers: each a clean error envelope, never a 5xx;
* a 1 MB header in one write, and 10,000 headers;
* slowloris: more connections than the server process may hold file descriptors (it runs with
  RLIMIT_NOFILE 1024, soft and hard: a stock shell's limit), each sending its head one byte per
  second, and as many slow bodies — while they hang on, fresh REST and gRPC clients are served
  promptly (the REST connection cap evicts the connection that waited longest on its client);
* gRPC: a message over the receive limit, garbage and half-finished HTTP/2 on the port, a flood
  of half-open connections (capped, so REST and the process survive it), and a thousand
  concurrent calls on one channel.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.rest.app import MAX_BODY_BYTES
from tests.support.gateway import kms_code
from tests.support.serve import ServeProcess, cli, start_serve

FD_LIMIT = 1024  # the server's RLIMIT_NOFILE: what a shell gives a process on a stock Linux
PROMPT_S = 5.0  # a normal call during the abuse must finish within this (generous: 2 shared cores)


@dataclass
class Served:
    srv: ServeProcess
    project: str
    token: str
    key_id: str

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.srv.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.srv.grpc_port}"

    def path(self, op: str) -> str:
        return f"/v1.0/{self.project}/kms{op}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("abuse") / "var"
    project = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project)["token"]
    limit = f"import resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT}))"
    argv = [
        sys.executable, "-c", f"{limit}; from gateway.cli import main; sys.exit(main(sys.argv[1:]))",
        "serve", "--data-dir", str(data_dir), "--workers", "1", "--grpc-listen", "127.0.0.1:0",
        "--rest-listen", "127.0.0.1:0",
    ]  # fmt: skip
    srv = start_serve(data_dir, argv=argv)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.http_port}", trust_env=False, timeout=30) as http:
            resp = http.post(f"/v1.0/{project}/kms/create-key", json={"key_alias": "abuse"}, headers=_auth(token))
            assert resp.status_code == 200, resp.text
        yield Served(srv, project, token, resp.json()["key_info"]["key_id"])
    finally:
        code = srv.terminate()
        errors = [line for line in srv.log_lines if line.get("level") in ("ERROR", "CRITICAL")]
        assert not errors, errors[:5]
        assert code == 0


def _auth(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


# -- a normal client, on fresh connections ------------------------------------------------------
def normal_rest_call(s: Served) -> float:
    """create-datakey on a new connection; seconds it took."""
    start = time.monotonic()
    with httpx.Client(base_url=s.rest_url, trust_env=False, timeout=PROMPT_S * 3) as http:
        resp = http.post(s.path("/create-datakey"), json={"key_id": s.key_id}, headers=_auth(s.token))
    assert resp.status_code == 200, resp.text
    return time.monotonic() - start


def normal_grpc_call(s: Served) -> float:
    """CreateDataKey on a new channel; seconds it took."""
    start = time.monotonic()
    with grpc.insecure_channel(s.grpc_target) as channel:
        stub = pb_grpc.KeyManagementServiceStub(channel)
        out = stub.CreateDataKey(
            pb.CreateDataKeyRequest(key_id=s.key_id), metadata=[("x-auth-token", s.token)], timeout=PROMPT_S * 3
        )
    assert len(out.plain_text) == 32
    return time.monotonic() - start


def assert_served_promptly(s: Served, rounds: int = 3) -> list[float]:
    took = []
    for _ in range(rounds):
        took += [normal_rest_call(s), normal_grpc_call(s)]
    assert max(took) < PROMPT_S, took
    return took


# -- raw HTTP -----------------------------------------------------------------------------------
def exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send ``data`` in one write, read until the server closes (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            out += chunk
    return out


def envelope(raw: bytes) -> tuple[int, str]:
    """(status, KMS code) of a raw HTTP answer, asserting it is the JSON error envelope."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    assert headers.get("content-type", "").startswith("application/json"), head
    doc = json.loads(body[: int(headers["content-length"])])
    assert set(doc) == {"error"} and set(doc["error"]) == {"error_code", "error_msg"}, doc
    return int(lines[0].split(" ")[1]), doc["error"]["error_code"]


def post(s: Served, target: str, body: bytes, *, extra: bytes = b"", chunked: bool = False) -> bytes:
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: " + str(len(body)).encode()
    head = (
        b"POST " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + s.token.encode()
        + b"\r\nContent-Type: application/json\r\n" + length + b"\r\nConnection: close\r\n" + extra + b"\r\n"
    )  # fmt: skip
    if chunked:
        body = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536)
        )
        body += b"0\r\n\r\n"
    return exchange(s.srv.http_port, head + body)


def _padded(size: int) -> bytes:
    """A valid gen-random body of exactly ``size`` bytes (an unknown field carries the padding)."""
    base = b'{"random_data_length": "64", "pad": ""}'
    return base[:-2] + b"x" * (size - len(base)) + b'"}'


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_at_the_limit(served: Served, chunked: bool) -> None:
    at_limit = post(served, served.path("/gen-random"), _padded(MAX_BODY_BYTES), chunked=chunked)
    assert at_limit.startswith(b"HTTP/1.1 200 "), at_limit[:300]
    over = post(served, served.path("/gen-random"), _padded(MAX_BODY_BYTES + 1), chunked=chunked)
    assert envelope(over) == (400, "KMS.0203")


def test_huge_bodies(served: Served) -> None:
    """Bodies far past the limit are refused from their Content-Length, without being read."""
    declared = (
        b"POST " + served.path("/gen-random").encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
    )
    start = time.monotonic()
    assert envelope(exchange(served.srv.http_port, declared + b"{" * 1000)) == (400, "KMS.0203")
    assert time.monotonic() - start < PROMPT_S
    many_keys = b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(60_000)) + b', "random_data_length": "64"}'
    assert len(many_keys) < MAX_BODY_BYTES
    assert post(served, served.path("/gen-random"), many_keys).startswith(b"HTTP/1.1 200 ")
    deep = b"[" * (MAX_BODY_BYTES - 10)
    assert envelope(post(served, served.path("/gen-random"), deep)) == (400, "KMS.0202")
    assert_served_promptly(served, rounds=1)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"random_data_length": "6\x004"}', "KMS.0202"),  # a raw NUL inside a string: not JSON
        (b'{"random_data_length": "64"}\x00', "KMS.0202"),
        (b'{"random_data_length\\u0000": "64"}', "KMS.0204"),  # a key with an escaped NUL: another key
        (b'{"random_data_length": "64\\u0000"}', "KMS.1801"),
        (b'{"random_data_length": "\xff\xfe"}', "KMS.0202"),  # invalid UTF-8
        (b'{"\xc3": "64"}', "KMS.0202"),
        (b'{"random_data_length": "\xf4\x90\x80\x80"}', "KMS.0202"),  # past U+10FFFF
        (b'{"random_data_length": "\xc0\xb6\xc0\xb4"}', "KMS.0202"),  # overlong "64"
    ],
    ids=["raw-nul", "trailing-nul", "nul-in-key", "escaped-nul", "ff-fe", "truncated-sequence", "too-high", "overlong"],
)
def test_nul_and_invalid_utf8_in_bodies(served: Served, body: bytes, code: str) -> None:
    assert envelope(post(served, served.path("/gen-random"), body)) == (400, code)


@pytest.mark.parametrize(
    "target",
    [
        "/v1.0/%00/kms/gen-random",
        "/v1.0/{project}/kms/gen-random%00",
        "/v1.0/{project}/kms/{key}/tags/%00",
        "/v1.0/{project}/kms/%00/tags",
        "/v1.0/%ff%fe/kms/gen-random",
        "/v1.0/{project}/kms/{key}/tags/%c3",
        "/v1.0/{project}/kms/{key}/tags/\xff\xfe",
        "/v1.0/\xc3\x28/kms/gen-random",
        "/v1.0/{project}/kms/gen-random?a=%00&b=\xff",
    ],
)
def test_nul_and_invalid_utf8_in_paths(served: Served, target: str) -> None:
    target = target.format(project=served.project, key=served.key_id)
    raw = post(served, target, b'{"random_data_length": "64"}')
    if raw.startswith(b"HTTP/1.1 200 "):  # only the query string is odd: ignored, as any query
        assert "?" in target
        return
    status, code = envelope(raw)
    assert 400 <= status < 500 and code.startswith("KMS."), (status, code)


def test_tag_delete_with_odd_key_answers_cleanly(served: Served) -> None:
    with httpx.Client(base_url=served.rest_url, trust_env=False, timeout=30) as http:
        for key in ("%00", "%ff", "a%00b", "%e2%80%ae", "%25"):
            resp = http.delete(served.path(f"/{served.key_id}/tags/{key}"), headers=_auth(served.token))
            assert resp.status_code in (204, 400, 404), resp.text
            if resp.status_code != 204:
                assert resp.json()["error"]["error_code"].startswith("KMS.")


@pytest.mark.parametrize(
    "header",
    [
        b"X-Auth-Token: \xff\xfe\xfd",
        b"X-Auth-Token: abc\x00def",
        b"Authorization: SDK-HMAC-SHA256 Access=\xc3\x28, SignedHeaders=host, Signature=00",
        b"X-Sdk-Date: \xff",
        b"X-Odd-\xff: 1",
        b"X-Nul: a\x00b",
    ],
    ids=["token-ff", "token-nul", "authorization-bad-utf8", "sdk-date-ff", "name-ff", "value-nul"],
)
def test_nul_and_invalid_utf8_in_headers(served: Served, header: bytes) -> None:
    head = b"POST " + served.path("/list-keys").encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    raw = exchange(served.srv.http_port, head + header + b"\r\nConnection: close\r\n\r\n{}")
    status, code = envelope(raw)
    assert 400 <= status < 500 and code.startswith("KMS."), (status, code)


def test_one_megabyte_header_in_one_write(served: Served) -> None:
    raw = exchange(served.srv.http_port, _list_keys(served, b"X-Big: " + b"a" * (1 << 20) + b"\r\n"))
    if raw:  # the answer may be lost when the server closes with unread data (RST): HTTP allows it
        assert envelope(raw) == (400, "KMS.0203")
    assert_served_promptly(served, rounds=1)


@pytest.mark.parametrize("size", [5, 12], ids=["10k-tiny-headers", "10k-headers-over-the-limit"])
def test_ten_thousand_headers(served: Served, size: int) -> None:
    headers = (
        b"".join(b"x%05d:%s\r\n" % (i, b"v" * (size - 8)) for i in range(10_000)) if size > 8 else b"a:b\r\n" * 10_000
    )
    raw = exchange(served.srv.http_port, _list_keys(served, headers))
    if len(headers) > 64 * 1024:
        if raw:
            assert envelope(raw) == (400, "KMS.0203")
    else:
        assert raw.startswith(b"HTTP/1.1 200 "), raw[:300]
    assert_served_promptly(served, rounds=1)


def _list_keys(s: Served, extra: bytes) -> bytes:
    return (
        b"POST " + s.path("/list-keys").encode() + b" HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + s.token.encode()
        + b"\r\nContent-Length: 2\r\nConnection: close\r\n" + extra + b"\r\n{}"
    )  # fmt: skip


# -- slow clients -------------------------------------------------------------------------------
class Trickle:
    """Many sockets, each sent ``payload`` one byte per ``interval`` from one background thread."""

    def __init__(self, port: int, payload: bytes, count: int, interval: float = 1.0, first: bytes = b"") -> None:
        self.port, self.payload, self.count, self.interval, self.first = port, payload, count, interval, first
        self.socks: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Trickle:
        for _ in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", self.port))
            self.socks.append(sock)
        time.sleep(0.2)
        for sock in self.socks:
            if self.first:
                try:
                    sock.send(self.first)
                except OSError:
                    pass
        self._thread.start()
        return self

    def _run(self) -> None:
        sent = 0
        while not self._stop.wait(self.interval) and sent < len(self.payload):
            byte = self.payload[sent : sent + 1]
            for sock in self.socks:
                try:
                    sock.send(byte)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    continue
            sent += 1

    def count_closed(self) -> int:
        """Sockets the server has closed (EOF or reset) by now."""
        closed = 0
        with selectors.DefaultSelector() as sel:
            for sock in self.socks:
                sel.register(sock, selectors.EVENT_READ)
            for key, _ in sel.select(timeout=0.1):
                sock = key.fileobj
                try:
                    while chunk := sock.recv(65536):  # type: ignore[union-attr]
                        if not chunk:
                            break
                    closed += 1
                except BlockingIOError:
                    continue
                except OSError:
                    closed += 1
        return closed

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            sock.close()


@contextmanager
def _during(seconds: float) -> Iterator[Callable[[], bool]]:
    deadline = time.monotonic() + seconds
    yield lambda: time.monotonic() < deadline


def test_slowloris_heads_do_not_starve_other_clients(served: Served) -> None:
    """More trickling heads than the server may hold descriptors: fresh clients are still served."""
    head = _list_keys(served, b"X-Slow: " + b"s" * 200 + b"\r\n")
    with Trickle(served.srv.http_port, head[5:], count=FD_LIMIT + 500, first=head[:5]):
        took: list[float] = []
        with _during(8) as going:
            while going():
                took += assert_served_promptly(served, rounds=1)
                time.sleep(0.5)
    assert took and max(took) < PROMPT_S, took


def test_slow_bodies_do_not_starve_other_clients(served: Served) -> None:
    head = (
        b"POST " + served.path("/gen-random").encode() + b" HTTP/1.1\r\nHost: x\r\nX-Auth-Token: "
        + served.token.encode() + b"\r\nContent-Length: 500\r\n\r\n"
    )  # fmt: skip
    with Trickle(served.srv.http_port, b"{" + b" " * 499, count=FD_LIMIT + 500, first=head):
        took: list[float] = []
        with _during(8) as going:
            while going():
                took += assert_served_promptly(served, rounds=1)
                time.sleep(0.5)
    assert took and max(took) < PROMPT_S, took


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def test_half_open_grpc_connections_do_not_starve_other_clients(served: Served) -> None:
    """Connections that send half an HTTP/2 preface, then a byte a second (fewer than the gRPC cap)."""
    with Trickle(served.srv.grpc_port, PREFACE[8:] + b"\x00" * 50, count=FD_LIMIT // 8, first=PREFACE[:8]):
        took: list[float] = []
        with _during(6) as going:
            while going():
                took += assert_served_promptly(served, rounds=1)
                time.sleep(0.5)
    assert took and max(took) < PROMPT_S, took


def test_grpc_connection_flood_leaves_the_process_and_rest_alone(served: Served) -> None:
    """More half-open gRPC connections than the process has descriptors: gRPC's cap (a quarter of
    them) refuses the excess, so REST keeps being served; stalled handshakes are dropped after 10 s,
    and then gRPC serves fresh clients again. (Newcomers over gRPC wait that long: a known limit.)"""
    flood = Trickle(served.srv.grpc_port, PREFACE[8:] + b"\x00" * 50, count=FD_LIMIT + 500, first=PREFACE[:8])
    with flood:
        took: list[float] = []
        with _during(12) as going:
            while going():
                took.append(normal_rest_call(served))
                time.sleep(0.5)
        assert max(took) < PROMPT_S, took
        assert flood.count_closed() == flood.count, "every stalled handshake was dropped"
        assert_served_promptly(served, rounds=1)


# -- gRPC ---------------------------------------------------------------------------------------
def test_grpc_message_over_the_receive_limit(served: Served) -> None:
    with grpc.insecure_channel(served.grpc_target, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        stub = pb_grpc.KeyManagementServiceStub(channel)
        md = [("x-auth-token", served.token)]
        for size in (5 << 20, 32 << 20):
            with pytest.raises(grpc.RpcError) as err:
                stub.EncryptData(
                    pb.EncryptDataRequest(key_id=served.key_id, plain_text=b"\x00" * size), metadata=md, timeout=30
                )
            assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, err.value.details()
        out = stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=served.key_id), metadata=md, timeout=30)
        assert len(out.plain_text) == 32  # the same channel still works
    assert_served_promptly(served, rounds=1)


@pytest.mark.parametrize(
    "raw",
    [
        os.urandom(4096),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x04\x08\x00\x00\x00\x00\x00" + os.urandom(2000),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01" + b"\x00" * 100,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        + b"\x00\x00\x05\x01\x04\x00\x00\x00\x01garbage",
    ],
    ids=["random-bytes", "http1", "preface-then-random", "oversized-frame", "headers-frame-garbage-hpack"],
)
def test_grpc_garbage_on_the_wire(served: Served, raw: bytes) -> None:
    start = time.monotonic()
    out = exchange(served.srv.grpc_port, raw, timeout=30)
    assert time.monotonic() - start < 25, "the server closes a connection it cannot speak with"
    assert b"kms" not in out.lower() or b"error" in out.lower()
    assert_served_promptly(served, rounds=1)


def test_a_thousand_concurrent_grpc_calls_on_one_channel(served: Served) -> None:
    with grpc.insecure_channel(served.grpc_target) as channel:
        stub = pb_grpc.KeyManagementServiceStub(channel)
        md = [("x-auth-token", served.token)]
        futures = [
            stub.CreateDataKey.future(pb.CreateDataKeyRequest(key_id=served.key_id), metadata=md, timeout=60)
            for _ in range(1000)
        ]
        took = assert_served_promptly(served, rounds=1)
        results = [f.result() for f in futures]
    assert all(len(r.plain_text) == 32 for r in results)
    assert max(took) < PROMPT_S


def test_grpc_batch_of_the_maximum_size_and_one_more(served: Served) -> None:
    with grpc.insecure_channel(served.grpc_target) as channel:
        stub = pb_grpc.KeyManagementServiceStub(channel)
        md = [("x-auth-token", served.token)]
        out = stub.BatchCreateDataKey(
            pb.BatchCreateDataKeyRequest(key_id=served.key_id, count=1000), metadata=md, timeout=60
        )
        assert len(out.results) == 1000
        with pytest.raises(grpc.RpcError) as err:
            stub.BatchCreateDataKey(
                pb.BatchCreateDataKeyRequest(key_id=served.key_id, count=1001), metadata=md, timeout=60
            )
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT and kms_code(err.value).startswith("KMS.")


def test_configured_connection_cap_evicts_the_longest_waiting(tmp_path: Path) -> None:
    """``[http] max_connections``: over it, the idle connections that waited longest are closed."""
    config = tmp_path / "kmsgw.toml"
    config.write_text("[http]\nmax_connections = 8\n")
    data_dir = tmp_path / "var"
    project = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project)["token"]
    srv = start_serve(data_dir, "--config", str(config), "--workers", "1")
    try:
        idle = Trickle(srv.http_port, b"", count=30)
        with idle:
            time.sleep(0.5)
            with httpx.Client(base_url=f"http://127.0.0.1:{srv.http_port}", trust_env=False, timeout=10) as http:
                resp = http.post(
                    f"/v1.0/{project}/kms/gen-random", json={"random_data_length": "64"}, headers=_auth(token)
                )
            assert resp.status_code == 200, resp.text
            assert idle.count_closed() >= 30 - 8 + 1, "the oldest idle connections made room"
    finally:
        assert srv.terminate() == 0
    assert any(line.get("msg", "").startswith("connection cap reached") for line in srv.log_lines)
