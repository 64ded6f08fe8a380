"""The closed-loop gRPC Sign loader of ``benchmarks/scenarios/asymmetric.py``, run as a child process.

``python -m benchmarks.scenarios.asym_loader --target HOST:PORT --token T --spec EC_P256
--algorithm ECDSA_SHA_256 --seconds 5``: creates a key, keeps N Sign calls in flight (with the
``x-auth-token`` metadata), prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from benchmarks.harness import percentile_ms

DIGEST = bytes(range(32))
CONCURRENCY = 32


async def _load(args: argparse.Namespace) -> dict[str, float | None]:
    import grpc

    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
    from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc

    md = (("x-auth-token", args.token),)
    async with grpc.aio.insecure_channel(args.target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        stub = pb_grpc.KeyManagementServiceStub(channel)
        alias = f"bench-{args.spec.lower()}-{os.getpid()}-{time.monotonic_ns()}"
        key = await stub.CreateKey(pb.CreateKeyRequest(key_alias=alias, key_spec=args.spec), metadata=md)
        request = pb.SignRequest(key_id=key.key_info.key_id, message=DIGEST, signing_algorithm=args.algorithm)
        latencies: list[float] = []
        errors = 0
        measuring = False
        stop_at = time.perf_counter() + args.warmup + args.seconds
        window: list[float] = []

        async def worker() -> None:
            nonlocal errors
            while (t0 := time.perf_counter()) < stop_at:
                try:
                    await stub.Sign(request, metadata=md, timeout=10)
                    if measuring:
                        latencies.append(time.perf_counter() - t0)
                except grpc.RpcError:
                    if measuring:
                        errors += 1

        async def clock() -> None:
            nonlocal measuring
            await asyncio.sleep(args.warmup)
            measuring = True
            window.append(time.perf_counter())

        await asyncio.gather(clock(), *(worker() for _ in range(args.concurrency)))
        seconds = time.perf_counter() - window[0]
    latencies.sort()
    return {
        "rate": len(latencies) / seconds,
        "ops": len(latencies),
        "seconds": seconds,
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="closed-loop gRPC Sign loader (benchmarks.scenarios.asymmetric)")
    p.add_argument("--target", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--algorithm", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(_load(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
