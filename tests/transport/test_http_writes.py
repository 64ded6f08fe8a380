"""One socket send per response (gateway/rest/protocol.py, ``WholeResponse``), and not one byte changed.

The same ASGI app is served twice on loopback, by uvicorn's own httptools protocol and by the
gateway's; raw sockets send both the same requests (keep-alive, pipelined, HEAD, 204, a streamed
body, a body sent after a wait, 100-continue, HTTP/1.0, an app that fails after its head) and
every byte that comes back must be the same. A transport that counts writes shows the gateway's
protocol makes one per response where uvicorn makes two.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.core.dialects import get_dialect
from gateway.rest.protocol import http_protocol, rest_envelope

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """Answers by path; every answer is fixed, so the two servers' bytes can be compared."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":  # no content-length: chunked, in several body messages
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/fails":  # the head is sent, then the app fails: the connection closes after the head
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise RuntimeError("after the head")
    answer = b'{"path":"%s","got":%d}' % (path.encode(), len(body))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    if path == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/late":  # the body some time after the head
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": answer})


class CountingTransport:
    """A transport that counts the writes made on it (everything else goes to the real one)."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def counting(protocol: type[HttpToolsProtocol], writes: list[bytes]) -> type[HttpToolsProtocol]:
    class Counting(protocol):  # type: ignore[valid-type,misc]  # a class made at run time
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(CountingTransport(transport, writes))

    return Counting


class Servers:
    """uvicorn's protocol and the gateway's, each on a loopback port, on one loop in a thread."""

    def __init__(self) -> None:
        self.plain_writes: list[bytes] = []
        self.gateway_writes: list[bytes] = []
        rest = rest_envelope(get_dialect("primary"))
        gateway_protocol = http_protocol(lambda _path, _headers: rest)
        protocols = (counting(HttpToolsProtocol, self.plain_writes), counting(gateway_protocol, self.gateway_writes))
        self.sockets = [socket.create_server(("127.0.0.1", 0)) for _ in protocols]
        self.ports = [s.getsockname()[1] for s in self.sockets]
        self.servers = [
            uvicorn.Server(
                uvicorn.Config(
                    app, http=proto, lifespan="off", log_config=None, access_log=False,
                    server_header=False, date_header=False,
                )
            )
            for proto in protocols
        ]  # fmt: skip
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self.thread.start()

    async def _serve(self) -> None:
        await asyncio.gather(*(srv.serve(sockets=[s]) for srv, s in zip(self.servers, self.sockets, strict=True)))

    def wait_started(self) -> None:
        for srv in self.servers:
            for _ in range(500):
                if srv.started:
                    break
                threading.Event().wait(0.01)
            assert srv.started

    def stop(self) -> None:
        for srv in self.servers:
            srv.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    srv = Servers()
    srv.wait_started()
    yield srv
    srv.stop()


def exchange(port: int, *sends: bytes, expect_100: bool = False) -> bytes:
    """Every byte the server sends until it closes the connection. With ``expect_100``, the first
    send is a head with ``Expect: 100-continue``: the body (second send) follows the interim answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        received = b""
        for i, data in enumerate(sends):
            sock.sendall(data)
            if expect_100 and i == 0:
                while b"\r\n\r\n" not in received:
                    chunk = sock.recv(65536)
                    assert chunk, "closed before 100 Continue"
                    received += chunk
        while chunk := sock.recv(65536):
            received += chunk
        return received


def both(servers: Servers, *sends: bytes, expect_100: bool = False) -> bytes:
    plain = exchange(servers.ports[0], *sends, expect_100=expect_100)
    ours = exchange(servers.ports[1], *sends, expect_100=expect_100)
    assert ours == plain
    return ours


def get(path: str, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


def post(path: str, body: bytes) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


CLOSE = get("/close")


def test_keep_alive_answers_are_byte_for_byte_uvicorns(servers: Servers) -> None:
    out = both(
        servers,
        post("/json", b'{"a":1}'),
        get("/json", "HEAD"),
        get("/empty"),
        get("/stream"),
        get("/late"),
        get("/json"),
        CLOSE,
    )
    assert out.count(b"HTTP/1.1 ") == 7
    assert b"content-length: 24\r\n\r\n" in out and b'{"path":"/json","got":7}' in out
    assert b"transfer-encoding: chunked\r\n\r\n4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n" in out


def test_pipelined_requests_in_one_send_are_answered_in_order(servers: Servers) -> None:
    out = both(servers, post("/json", b"x") + get("/late") + get("/json", "HEAD") + get("/empty") + CLOSE)
    paths = [line for line in out.split(b"\r\n") if line.startswith(b'{"path"')]
    assert out.count(b"HTTP/1.1 ") == 5 and len(paths) == 3  # HEAD and 204 carry no body


def test_100_continue_http_1_0_and_a_failing_app(servers: Servers) -> None:
    head = b"POST /json HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    out = both(servers, head, b"abc" + CLOSE, expect_100=True)
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    out = both(servers, b"GET /json HTTP/1.0\r\n\r\n")  # no keep-alive: closed after the answer
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close\r\n" in out
    out = both(servers, get("/fails"))  # the head, then the connection closes
    assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"


def test_one_write_per_response_where_uvicorn_makes_two(servers: Servers) -> None:
    servers.plain_writes.clear()
    servers.gateway_writes.clear()
    requests = [post("/json", b"{}") for _ in range(5)] + [CLOSE]
    both(servers, *requests)
    assert len(servers.plain_writes) == 12
    assert len(servers.gateway_writes) == 6
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b"}") for w in servers.gateway_writes)


def test_a_held_head_never_outlives_its_response(servers: Servers) -> None:
    """HEAD writes no body: its head leaves when the response ends, before the next one starts."""
    servers.gateway_writes.clear()
    both(servers, get("/json", "HEAD"), get("/json", "HEAD"), CLOSE)
    heads = [w for w in servers.gateway_writes if w.startswith(b"HTTP/1.1 ")]
    assert len(heads) == 3 and all(not h.endswith(b"}") for h in heads[:2])
