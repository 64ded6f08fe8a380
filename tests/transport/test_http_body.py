"""The HTTP doors' one body reader (gateway/pipeline/http_body.py), as pure logic over an ASGI
``receive``; each door's own error for these refusals is tested against a real server in its folder
(tests/transport/test_rest_inputs.py, tests/xks/test_operations.py, tests/aws/test_wire.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

import pytest

from gateway.pipeline import ClientGone
from gateway.pipeline.http_body import BodyTimedOut, BodyTooLarge, declared_length, read_body

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def messages(*parts: bytes, disconnect: bool = False, stall: bool = False) -> tuple[Receive, list[int]]:
    """A ``receive`` that hands out the parts (the last one ends the body unless it stalls or
    disconnects), and the count of messages taken."""
    taken = [0]

    async def receive() -> MutableMapping[str, Any]:
        i = taken[0]
        taken[0] += 1
        if i < len(parts):
            more = i < len(parts) - 1 or disconnect or stall
            return {"type": "http.request", "body": parts[i], "more_body": more}
        if disconnect:
            return {"type": "http.disconnect"}
        await asyncio.sleep(3600)  # a body that never ends
        raise AssertionError("unreachable")

    return receive, taken


def run(coro: Coroutine[Any, Any, bytes]) -> bytes:
    return asyncio.run(coro)


def test_one_message_and_several_are_joined() -> None:
    assert run(read_body(messages(b"abc")[0], 10, 1.0)) == b"abc"
    assert run(read_body(messages(b"ab", b"", b"cd")[0], 10, 1.0)) == b"abcd"
    assert run(read_body(messages(b"x" * 10)[0], 10, 1.0)) == b"x" * 10  # exactly the limit


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    receive, taken = messages(b"abc")
    with pytest.raises(BodyTooLarge):
        run(read_body(receive, 10, 1.0, declared=11))
    assert taken == [0]


def test_a_body_growing_over_the_limit_stops_there() -> None:
    receive, taken = messages(b"x" * 6, b"x" * 6, b"never read")
    with pytest.raises(BodyTooLarge):
        run(read_body(receive, 10, 1.0))
    assert taken == [2]
    with pytest.raises(BodyTooLarge):
        run(read_body(messages(b"x" * 11)[0], 10, 1.0))


def test_a_body_that_never_ends_times_out_and_a_gone_client_is_said() -> None:
    with pytest.raises(BodyTimedOut):
        run(read_body(messages(b"ab", stall=True)[0], 10, 0.05))
    with pytest.raises(ClientGone):
        run(read_body(messages(b"ab", disconnect=True)[0], 10, 1.0))


def test_declared_length() -> None:
    assert declared_length([(b"host", b"h"), (b"content-length", b"12")]) == b"12"
    assert declared_length([(b"host", b"h")]) is None
