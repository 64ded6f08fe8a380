"""The body of an HTTP request (ASGI), read whole under a size limit and a deadline.

One reader for the three HTTP doors (REST, XKS, the AWS KMS API); each turns the two refusals into
its own error shape. A declared Content-Length over the limit is refused before anything is read,
and a chunked body is read only up to the limit. A body that has not all arrived by the deadline (a
Content-Length that promises more than is sent, a chunked body that never ends) is refused too, so
the client gets an answer instead of holding the connection forever. The caller closes the
connection after a refusal, so the rest is never read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from gateway.pipeline.contracts import ClientGone

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyTooLarge(Exception):
    """The body exceeds the limit (declared, or as it arrived)."""


class BodyTimedOut(Exception):
    """The body had not all arrived when the deadline passed."""


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The raw Content-Length of an ASGI scope's headers, if any."""
    for name, value in headers:
        if name == b"content-length":
            return value
    return None


async def read_body(receive: Receive, limit: int, timeout_s: float, declared: int | None = None) -> bytes:
    """The whole body; :class:`BodyTooLarge`, :class:`BodyTimedOut`, or :class:`ClientGone` when
    the client disconnected."""
    if declared is not None and declared > limit:
        raise BodyTooLarge
    try:
        async with asyncio.timeout(timeout_s):
            return await _receive(receive, limit)
    except TimeoutError:
        raise BodyTimedOut from None


async def _receive(receive: Receive, limit: int) -> bytes:
    first = await receive()
    if first["type"] == "http.disconnect":
        raise ClientGone
    body = first.get("body", b"")
    if not first.get("more_body", False):  # the common case: the whole body in one message
        if len(body) > limit:
            raise BodyTooLarge
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
