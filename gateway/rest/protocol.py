"""The HTTP/1.1 connection: uvicorn's httptools protocol with the limits it lacks.

uvicorn bounds neither how long a request head may take to arrive nor how large it may grow: a
client that connects and sends nothing, or half a head, holds its connection forever (its
keep-alive timer is cancelled by any byte), and a head of hundreds of MiB is buffered whole, at a
cost that grows faster than its size. And a head it cannot parse gets a ``text/plain`` answer.
:class:`GatewayHttpProtocol` adds, per connection:

* a deadline for each request head (:attr:`head_timeout`, counted from the connection or from the
  previous response): a partial head then gets the error envelope, an idle connection is closed;
* a size limit on a head (:attr:`max_head_bytes`): over it, KMS.0203 and the connection closes.
  It counts the socket reads that leave a head unfinished, so it may be passed by what one read
  carries (at most 256 KiB), or two when the head follows a body: bounded, not exact;
* the error envelope (``{"error": {"error_code", "error_msg"}}``, X-Request-Id) for a request the
  parser refuses, instead of uvicorn's plain text.

The body has its own deadline in the endpoint (``app.read_body``), which can answer in the envelope.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.core.dialects import Dialect
from gateway.core.errors import Err, KmsError

HEAD_TIMEOUT_S = 30.0
MAX_HEAD_BYTES = 64 * 1024


class GatewayHttpProtocol(HttpToolsProtocol):
    """Build one per runtime with :func:`http_protocol`, which fixes the error dialect."""

    dialect: Dialect
    head_timeout: float = HEAD_TIMEOUT_S
    max_head_bytes: int = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_pending = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._heads = 0  # request heads parsed on this connection

    # -- the head deadline ----------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            self._refuse(Err.INVALID_PARAMETER, f"The request head did not arrive within {self.head_timeout:g} s.")
        else:
            self.transport.close()  # idle: nothing to answer

    # -- uvicorn's hooks ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_head, heads = self._head_pending, self._heads
        super().data_received(data)
        # Counted after parsing, and only a chunk that began in a head and completed none: all head.
        if in_head and self._head_pending and self._heads == heads and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(Err.BODY_TOO_LARGE, f"The request head exceeds {self.max_head_bytes} bytes.")

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._head_bytes = 0
        self._heads += 1
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer: no request is in flight, the next head is due.
        if self.timeout_keep_alive_task is not None and not self.transport.is_closing():
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        self._refuse(Err.INVALID_PARAMETER, "Invalid HTTP request.")

    # -- answering outside the ASGI app ---------------------------------------------------------
    def _refuse(self, err: Err, detail: str) -> None:
        """Answer in the error envelope and close; only close when that answer could interleave."""
        self._cancel_head_timer()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and (self._head_pending or cycle.response_started):
            # Another request's answer is due or under way (pipelining): this one must not cut in.
            self.transport.close()
            return
        wire = self.dialect.render(KmsError(err, detail))
        body = json.dumps({"error": {"error_code": wire.code, "error_msg": wire.message}}).encode()
        head = [STATUS_LINE[wire.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"x-request-id: ",
            os.urandom(16).hex().encode(),
            b"\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def http_protocol(dialect: Dialect) -> type[GatewayHttpProtocol]:
    """The protocol class for uvicorn's ``http=`` with this runtime's error dialect."""
    return type("GatewayHttpProtocol", (GatewayHttpProtocol,), {"dialect": dialect})
