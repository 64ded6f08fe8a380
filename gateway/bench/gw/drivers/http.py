"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation.

General-purpose clients spend several times the server's own CPU per request in Python; a loader
that costs more than the server measures itself. This one sends a fixed request shape and reads
``Content-Length`` or chunked answers, nothing else (no redirects, no cookies, no TLS session reuse).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpPool:
    """``size`` persistent connections to one origin, handed out one request at a time, first come first
    served: a released connection goes straight to the longest waiter, so a caller that just finished
    cannot take it back ahead of the others (which would starve them and hide their waiting time)."""

    def __init__(self, url: str, size: int, timeout: float, ca_file: str | None = None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base = parts.path.rstrip("/")
        self.tls = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
        self.size, self.timeout = size, timeout
        self.free: list[Conn | None] = [None] * size  # None: not connected yet (connected lazily)
        self.waiters: deque[asyncio.Future[Conn | None]] = deque()

    async def _connect(self) -> Conn:
        return await asyncio.open_connection(self.host, self.port, ssl=self.tls)

    async def _acquire(self) -> Conn | None:
        if self.free:
            return self.free.pop()
        waiter: asyncio.Future[Conn | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return await waiter

    def _release(self, conn: Conn | None) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.free.append(conn)

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        conn = await self._acquire()
        try:
            if conn is None:
                conn = await asyncio.wait_for(self._connect(), self.timeout)
            status, payload, keep = await asyncio.wait_for(
                self._exchange(conn, method, path, body, headers), self.timeout
            )
        except BaseException:
            if conn is not None:
                conn[1].close()
            self._release(None)
            raise
        if not keep:
            conn[1].close()
        self._release(conn if keep else None)
        return status, payload

    async def _exchange(
        self, conn: Conn, method: str, path: str, body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, bytes, bool]:  # fmt: skip
        reader, writer = conn
        head = [
            f"{method} {self.base}{path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, keep = None, False, True
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                keep = False
        if chunked:
            parts = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            return status, b"".join(parts), keep
        if length is None:
            return status, await reader.read(), False
        return status, await reader.readexactly(length), keep

    async def close(self) -> None:
        for conn in self.free:
            if conn is not None:
                conn[1].close()
        self.free.clear()
