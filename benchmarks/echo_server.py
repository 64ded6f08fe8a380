"""A gRPC unary echo server (bytes in, bytes out, no proto) on an ephemeral loopback port.

``python -m benchmarks.echo_server --port-file PATH`` serves until terminated and writes the bound
port to PATH once it accepts calls. Kept out of ``scenarios/`` so running it registers nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from benchmarks.harness import LOOPBACK


async def _serve(port_file: Path) -> None:
    import grpc

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(f"{LOOPBACK}:0")
    await server.start()
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)  # atomic: the runner never reads a half-written port
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.echo_server")
    parser.add_argument("--port-file", required=True, type=Path)
    asyncio.run(_serve(parser.parse_args().port_file))


if __name__ == "__main__":
    main()
