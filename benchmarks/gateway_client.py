"""Child-side gRPC clients of the gateway scenarios (``benchmarks/scenarios/gateway.py``).

``python -m benchmarks.gateway_client setup --target HOST:PORT --token-file F``
    creates one AES-256 master key and one data key under it; prints
    ``{"key_id": ..., "cipher_text": hex}`` (the ciphertext the DecryptDataKey rows replay).
``python -m benchmarks.gateway_client batch --target HOST:PORT --token-file F --key-id K ...``
    keeps N batch calls in flight (one connection each) for three back-to-back windows and prints
    one JSON line:
    ``pairs`` (BatchCreateDataKey of ``--count`` keys, then BatchDecryptDataKey of exactly those
    ciphertexts, every returned key checked against the created one), ``create`` (BatchCreateDataKey
    alone) and ``decrypt`` (BatchDecryptDataKey of one pre-made batch, replayed).

The bearer token travels in a file, never in argv. Run in its own process, like every loader, so
the runner's work never skews a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import percentile_ms

DATAKEY_BYTES = 32


async def _setup(args: argparse.Namespace) -> dict[str, Any]:
    import grpc

    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
    from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc

    md = (("x-auth-token", Path(args.token_file).read_text().strip()),)
    async with grpc.aio.insecure_channel(args.target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        stub = pb_grpc.KeyManagementServiceStub(channel)
        alias = f"bench-datakeys-{time.time_ns()}"
        key = await stub.CreateKey(pb.CreateKeyRequest(key_alias=alias), metadata=md, timeout=60)
        key_id = key.key_info.key_id
        dk = await stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id), metadata=md, timeout=30)
        back = await stub.DecryptDataKey(
            pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=DATAKEY_BYTES),
            metadata=md,
            timeout=30,
        )
        if back.data_key != dk.plain_text:
            raise RuntimeError("the gateway decrypted its own data key to something else")
    return {"key_id": key_id, "cipher_text": dk.cipher_text.hex()}


class _Phase:
    """One measured window: items completed inside it, per-call latencies, failed items."""

    def __init__(self, warmup: float, seconds: float) -> None:
        self.start = time.perf_counter() + warmup
        self.end = self.start + seconds
        self.items = 0
        self.calls = 0
        self.errors = 0
        self.latencies: list[float] = []

    def record(self, t0: float, items: int, errors: int) -> None:
        t1 = time.perf_counter()
        if self.start <= t1 <= self.end:
            self.items += items
            self.errors += errors
            self.calls += 1
            self.latencies.append(t1 - t0)

    def figures(self) -> dict[str, float | None]:
        lat = sorted(self.latencies)
        seconds = self.end - self.start
        return {
            "rate": self.items / seconds,
            "ops": self.items,
            "calls": self.calls,
            "seconds": seconds,
            "errors": self.errors,
            "p50_ms": percentile_ms(lat, 50),
            "p99_ms": percentile_ms(lat, 99),
        }


async def _drive(one: Callable[[Any, _Phase], Awaitable[None]], phase: _Phase, stubs: list[Any]) -> None:
    """One worker per stub (each its own connection), calling ``one`` until the window ends."""

    async def worker(stub: Any) -> None:
        while time.perf_counter() < phase.end:
            t0 = time.perf_counter()
            try:
                await one(stub, phase)
            except Exception as exc:  # a failed call: count it, back off a little, go on
                print(f"batch call failed: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
                phase.record(t0, 0, 1)
                await asyncio.sleep(0.05)

    await asyncio.gather(*(worker(stub) for stub in stubs))


async def _batch(args: argparse.Namespace) -> dict[str, Any]:
    import grpc

    from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc

    # One connection per call in flight (a local subchannel pool keeps channels from sharing one),
    # so `--workers 2` gets its share: SO_REUSEPORT spreads connections, not calls.
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024), ("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(args.target, options=options) for _ in range(args.concurrency)]
    try:
        await asyncio.wait_for(asyncio.gather(*(ch.channel_ready() for ch in channels)), 30)
        return await _batch_phases(args, [pb_grpc.KeyManagementServiceStub(ch) for ch in channels])
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))


async def _batch_phases(args: argparse.Namespace, stubs: list[Any]) -> dict[str, Any]:
    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

    md = (("x-auth-token", Path(args.token_file).read_text().strip()),)
    create_req = pb.BatchCreateDataKeyRequest(key_id=args.key_id, count=args.count)

    def decrypt_request(results: Any) -> Any:
        req = pb.BatchDecryptDataKeyRequest()
        for r in results:
            req.items.add(key_id=args.key_id, cipher_text=r.cipher_text, datakey_cipher_length=DATAKEY_BYTES)
        return req

    async def create(stub: Any) -> Any:
        resp = await stub.BatchCreateDataKey(create_req, metadata=md, timeout=args.timeout)
        if len(resp.results) != args.count:
            raise RuntimeError(f"asked {args.count} data keys, got {len(resp.results)}")
        return resp

    async def pair(stub: Any, phase: _Phase) -> None:
        t0 = time.perf_counter()
        made = await create(stub)
        opened = await stub.BatchDecryptDataKey(decrypt_request(made.results), metadata=md, timeout=args.timeout)
        bad = sum(
            1
            for a, b in zip(made.results, opened.results, strict=True)
            if a.HasField("error") or b.HasField("error") or a.plain_text != b.data_key
        )
        phase.record(t0, args.count - bad, bad)

    async def create_only(stub: Any, phase: _Phase) -> None:
        t0 = time.perf_counter()
        made = await create(stub)
        bad = sum(1 for a in made.results if a.HasField("error") or len(a.plain_text) != DATAKEY_BYTES)
        phase.record(t0, args.count - bad, bad)

    fixed = decrypt_request((await create(stubs[0])).results)

    async def decrypt_only(stub: Any, phase: _Phase) -> None:
        t0 = time.perf_counter()
        opened = await stub.BatchDecryptDataKey(fixed, metadata=md, timeout=args.timeout)
        bad = sum(1 for b in opened.results if b.HasField("error"))
        phase.record(t0, len(fixed.items) - bad, bad)

    out: dict[str, Any] = {}
    for name, fn, seconds in (
        ("pairs", pair, args.seconds),
        ("create", create_only, args.seconds / 2),
        ("decrypt", decrypt_only, args.seconds / 2),
    ):
        if args.phases in ("all", name):
            phase = _Phase(args.warmup, seconds)
            await _drive(fn, phase, stubs)
            out[name] = phase.figures()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gateway_client")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup", help="create a master key and one data key; print them as JSON")
    b = sub.add_parser("batch", help="batched data-key pairs, create-only and decrypt-only windows")
    for p in (s, b):
        p.add_argument("--target", required=True)
        p.add_argument("--token-file", required=True)
    b.add_argument("--key-id", required=True)
    b.add_argument("--count", type=int, default=1000)
    b.add_argument("--concurrency", type=int, default=4)
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--warmup", type=float, default=1.0)
    b.add_argument("--timeout", type=float, default=30.0)
    b.add_argument("--phases", choices=("all", "pairs", "create", "decrypt"), default="all")
    args = parser.parse_args(argv)
    runner = _setup if args.command == "setup" else _batch
    print(json.dumps(asyncio.run(runner(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
