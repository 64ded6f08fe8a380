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
* an error document for a request the parser refuses, instead of uvicorn's plain text: the shape
  of the transport the head so far belongs to (:attr:`envelope_for`, given by the composition root:
  the REST envelope ``{"error": {"error_code", "error_msg"}}`` with X-Request-Id, XKS's
  ``{errorName, errorMessage}`` on an XKS path, AWS's ``{__type, message}`` with X-Amz-Target);
* a cap on open connections per process (:attr:`max_connections`, ``[http] max_connections``).
  Without it, slowloris clients (heads or bodies sent a byte at a time) use up the process's file
  descriptors and the kernel queues every newcomer behind them until their deadlines fire. At the
  cap, a new connection evicts the one that has waited longest on its client (an idle keep-alive,
  a head or a body still arriving; never one whose request is being handled), so a fresh client
  is served at once; only when every connection is busy is the newcomer itself closed.

The body has its own deadline in the endpoint (``app.read_body``), which can answer in the envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.core.dialects import WireError
from gateway.core.errors import Err, KmsError
from gateway.pipeline import ErrorDialect, ErrorEnvelope

log = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 30.0
MAX_HEAD_BYTES = 64 * 1024
EVICTION_LOG_INTERVAL_S = 60.0  # at most one warning per interval while the cap evicts
Headers = Sequence[tuple[bytes, bytes]]
EnvelopeFor = Callable[[str, Headers], ErrorEnvelope]  # (path, headers so far) -> whose error shape


@runtime_checkable
class HeadRouter(Protocol):
    """An app dispatcher that can say whose error shape a request head gets (None: not its own)."""

    def envelope_for(self, path: str, headers: Headers) -> ErrorEnvelope | None: ...


def envelope_of(app: object, path: str, headers: Headers) -> ErrorEnvelope | None:
    """The envelope ``app`` names for a head, if it is a :class:`HeadRouter` and the head is its own."""
    return app.envelope_for(path, headers) if isinstance(app, HeadRouter) else None


def rest_error_body(wire: WireError) -> bytes:
    return json.dumps({"error": {"error_code": wire.code, "error_msg": wire.message}}).encode()


def rest_envelope(dialect: ErrorDialect) -> ErrorEnvelope:
    """The REST API's error envelope, in the configured KMS dialect."""
    return ErrorEnvelope(dialect, rest_error_body, b"application/json;charset=utf-8", b"x-request-id")


class GatewayHttpProtocol(HttpToolsProtocol):
    """Build one per listener with :func:`http_protocol`, which fixes whose error shape a head gets."""

    envelope_for: EnvelopeFor
    head_timeout: float = HEAD_TIMEOUT_S
    max_head_bytes: int = MAX_HEAD_BYTES
    max_connections: int = 0  # 0: no cap; http_protocol() sets the effective one
    _evictions = 0  # since the last warning (per process)
    _last_warning = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_pending = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._heads = 0  # request heads parsed on this connection
        self._waiting = True  # on the client (a head or body to come), not on a handler: evictable
        self._waiting_since = 0.0
        self._head_begun = False  # the parser has begun the head now pending (its url and headers so far)
        self._tls_extension: dict | None = None  # set in connection_made on a TLS connection

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
        self._tls_extension = _tls_extension(transport)
        self._arm_head_timer()
        self._waiting_since = self.loop.time()
        if self.max_connections and len(self.server_state.connections) > self.max_connections:
            self._make_room()

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

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        if self._tls_extension is not None:  # the peer certificate, for RestAuth (docs/tls.md)
            self.scope["extensions"] = {"tls": self._tls_extension}

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._head_bytes = 0
        self._heads += 1
        self._waiting_since = self.loop.time()  # now waiting on the body
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending, self._head_begun = True, False
        self._waiting = False  # the handler has it now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._waiting, self._waiting_since = True, self.loop.time()
        # uvicorn armed its keep-alive timer: no request is in flight, the next head is due.
        if self.timeout_keep_alive_task is not None and not self.transport.is_closing():
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        self._refuse(Err.INVALID_PARAMETER, "Invalid HTTP request.")

    # -- the connection cap ---------------------------------------------------------------------
    def _make_room(self) -> None:
        """Over the cap: close the connection that has waited longest on its client (maybe this one)."""
        waiting = (
            c
            for c in self.server_state.connections
            if isinstance(c, GatewayHttpProtocol) and c._waiting and not c.transport.is_closing()
        )
        victim = min(waiting, key=lambda c: c._waiting_since, default=self)
        victim._evict()
        cls = GatewayHttpProtocol
        cls._evictions += 1
        now = self.loop.time()
        if now - cls._last_warning >= EVICTION_LOG_INTERVAL_S:
            log.warning(
                "connection cap reached: closing the connections that wait longest on their clients",
                extra={"max_connections": self.max_connections, "evicted": cls._evictions},
            )
            cls._evictions, cls._last_warning = 0, now

    def _evict(self) -> None:
        if self._head_pending and self._head_bytes:  # half a head: answered as its deadline would be
            self._refuse(Err.INVALID_PARAMETER, "The request head was too slow for a server at its connection limit.")
        else:  # idle, a body still arriving (its handler sees a disconnect), or refused on arrival
            self._cancel_head_timer()
            self.transport.close()

    # -- answering outside the ASGI app ---------------------------------------------------------
    def _refuse(self, err: Err, detail: str) -> None:
        """Answer in the error envelope and close; only close when that answer could interleave."""
        self._cancel_head_timer()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and (self._head_pending or cycle.response_started):
            # Another request's answer is due or under way (pipelining): this one must not cut in.
            self.transport.close()
            return
        envelope = self._envelope()
        status, body = envelope.render(KmsError(err, detail))
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        if envelope.request_id_header:
            head += [envelope.request_id_header, b": ", os.urandom(16).hex().encode(), b"\r\n"]
        head += [
            b"content-type: ",
            envelope.content_type,
            b"\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _envelope(self) -> ErrorEnvelope:
        """The error shape of the transport the refused head belongs to, judged from what of it
        arrived: its path and headers so far (nothing yet: the listener's default)."""
        if not self._head_begun or self.headers is None:
            return self.envelope_for("", ())
        path = self.url.partition(b"?")[0].decode("latin-1")
        return self.envelope_for(path, self.headers)


def _tls_extension(transport: asyncio.Transport) -> dict | None:
    """The ASGI ``tls`` scope extension of a TLS connection, once per connection; None in plaintext.

    ``client_cert_der`` (ours) is the DER certificate the client presented, verified against
    ``[tls] client_ca_file`` by the handshake, or None; ``tls_version`` as the ASGI spec has it.
    """
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    version = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}.get(ssl_object.version() or "")
    return {"client_cert_der": ssl_object.getpeercert(binary_form=True) or None, "tls_version": version}


def http_protocol(envelope_for: EnvelopeFor, max_connections: int = 0) -> type[GatewayHttpProtocol]:
    """The protocol class for uvicorn's ``http=`` with this listener's error shapes and connection cap
    (``max_connections`` <= 0: :func:`default_connection_cap`)."""
    cap = max_connections if max_connections > 0 else default_connection_cap()
    attrs = {"envelope_for": staticmethod(envelope_for), "max_connections": cap}
    return type("GatewayHttpProtocol", (GatewayHttpProtocol,), attrs)


def default_connection_cap() -> int:
    """Half the process's open-file limit: the other half is for gRPC connections, the token, the
    store and the logs. Call :func:`raise_open_file_limit` first."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(32, soft // 2)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (a shell's 1024 is low for a server); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
    return hard
