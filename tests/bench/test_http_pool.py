"""The REST loader's connection pool is first come, first served: no caller starves while it waits.

A caller that just finished must not take its connection back ahead of those already waiting;
otherwise the waiters' time never reaches the latencies (the loader would omit exactly the slow
calls) and the "in flight" figure would be the pool size, not the concurrency asked for.
"""

from __future__ import annotations

import asyncio

from gateway.bench.gw.drivers.http import HttpPool

CALLERS, CONNECTIONS, CALLS = 8, 2, 20


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head:
            break
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        await reader.readexactly(length)
        await asyncio.sleep(0.002)  # a server that takes a little time, so callers queue for connections
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


async def _run() -> list[int]:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool(f"http://127.0.0.1:{port}", CONNECTIONS, timeout=10.0)
    done = [0] * CALLERS
    progress_when_first_finished: list[int] = []

    async def caller(i: int) -> None:
        for _ in range(CALLS):
            status, body = await pool.request("POST", "/x", b"{}", {})
            assert (status, body) == (200, b"ok")
            done[i] += 1
        if not progress_when_first_finished:
            progress_when_first_finished.extend(done)

    await asyncio.gather(*(caller(i) for i in range(CALLERS)))
    await pool.close()
    server.close()
    await server.wait_closed()
    return progress_when_first_finished


def test_waiting_callers_get_connections_in_turn() -> None:
    progress = asyncio.run(_run())
    assert min(progress) >= CALLS - 2, progress  # round robin: nobody falls behind the first to finish
