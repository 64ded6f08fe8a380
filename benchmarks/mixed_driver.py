"""One transport's CreateDataKey driver for the mixed-load rows and tests: N threads, closed loop.

``python -m benchmarks.mixed_driver --transport grpc|rest --port P --token-file F --project-id P
--key-id K [--threads 8] [--start-at MONO] [--warmup 1] --seconds S``

The same driver shape on both transports, so their rates compare: ``--threads`` blocking callers
in one process, each with its own connection (a gRPC channel of its own, or one HTTP/1.1
keep-alive connection: SO_REUSEPORT spreads connections over a gateway's workers), each calling
CreateDataKey back to back and checking every answer (32 bytes of plaintext, a ciphertext).
With ``--verify`` (the tests) each step also decrypts the data key and compares it.
Calls that complete inside the window ``[start-at, start-at + seconds]`` (``time.monotonic()``,
one clock for every process of the host, so two drivers can share a window) are counted; the
threads run from start-up to the window's end, so the time before it is warm-up.

Prints one JSON line: ops, rate, p50/p99 in ms, errors (with the first few reasons), and the
completions of each whole second of the window (``per_second``), which shows a transport that
stalled while the other ran. The bearer token travels in a file, never in argv.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THREADS = 8
TIMEOUT_S = 30.0
CONTEXT = {"bench": "mixed"}
MAX_ERRORS_KEPT = 10


@dataclass
class Tally:
    """One thread's completions (monotonic seconds) and latencies; merged after the run."""

    done: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0


Call = Callable[[], None]  # one checked CreateDataKey; raises on a wrong answer or a failed call


def grpc_call(port: int, token: str, key_id: str, verify: bool) -> tuple[Call, Callable[[], None]]:
    import grpc

    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
    from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc

    # A connection per thread: channels otherwise share one subchannel (one TCP connection, one worker).
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
    stub = pb_grpc.KeyManagementServiceStub(channel)
    md = (("x-auth-token", token),)
    request = pb.CreateDataKeyRequest(key_id=key_id, encryption_context=CONTEXT)

    def call() -> None:
        answer = stub.CreateDataKey(request, metadata=md, timeout=TIMEOUT_S)
        if len(answer.plain_text) != 32 or not answer.cipher_text or answer.key_id != key_id:
            raise AssertionError(f"wrong answer: {len(answer.plain_text)} plaintext bytes")
        if verify:
            back = stub.DecryptDataKey(
                pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=answer.cipher_text, encryption_context=CONTEXT),
                metadata=md,
                timeout=TIMEOUT_S,
            )
            if back.data_key != answer.plain_text:
                raise AssertionError("the data key did not decrypt to itself")

    return call, channel.close


def rest_call(port: int, token: str, project_id: str, key_id: str, verify: bool) -> tuple[Call, Callable[[], None]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    base = f"/v1.0/{project_id}/kms"
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}

    def post(op: str, body: dict[str, str]) -> dict[str, Any]:
        conn.request("POST", f"{base}/{op}", json.dumps(body).encode(), headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise AssertionError(f"HTTP {response.status}: {payload[:200]!r}")
        answer: dict[str, Any] = json.loads(payload)
        return answer

    def call() -> None:
        answer = post("create-datakey", {"key_id": key_id, "datakey_length": "256"})
        if len(answer.get("plain_text", "")) != 64 or not answer.get("cipher_text") or answer["key_id"] != key_id:
            raise AssertionError(f"wrong answer: {sorted(answer)}")
        if verify:
            back = post("decrypt-datakey", {"key_id": key_id, "cipher_text": answer["cipher_text"],
                                            "datakey_cipher_length": "32"})  # fmt: skip
            if back.get("data_key") != answer["plain_text"]:
                raise AssertionError("the data key did not decrypt to itself")

    return call, conn.close


def _caller(make: Callable[[], tuple[Call, Callable[[], None]]], until: float, tally: Tally) -> None:
    call, close = make()
    try:
        while (t0 := time.monotonic()) < until:
            try:
                call()
            except Exception as exc:  # counted, and the caller goes on: the run reports every error
                tally.error_count += 1
                if len(tally.errors) < MAX_ERRORS_KEPT:
                    tally.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                time.sleep(0.01)
                continue
            t1 = time.monotonic()
            tally.done.append(t1)
            tally.latencies.append(t1 - t0)
    finally:
        close()


def drive(args: argparse.Namespace) -> dict[str, Any]:
    token = Path(args.token_file).read_text().strip()
    start = args.start_at if args.start_at is not None else time.monotonic() + args.warmup
    end = start + args.seconds
    if args.transport == "grpc":

        def make() -> tuple[Call, Callable[[], None]]:
            return grpc_call(args.port, token, args.key_id, args.verify)
    else:

        def make() -> tuple[Call, Callable[[], None]]:
            return rest_call(args.port, token, args.project_id, args.key_id, args.verify)

    tallies = [Tally() for _ in range(args.threads)]
    threads = [threading.Thread(target=_caller, args=(make, end, t), daemon=True) for t in tallies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(end - time.monotonic() + TIMEOUT_S + 10)
    return summarize(args.transport, tallies, start, end)


def summarize(transport: str, tallies: list[Tally], start: float, end: float) -> dict[str, Any]:
    done: list[float] = []
    latencies: list[float] = []
    for tally in tallies:
        for t, latency in zip(tally.done, tally.latencies, strict=True):
            if start <= t <= end:
                done.append(t)
                latencies.append(latency)
    latencies.sort()
    seconds = end - start
    per_second = [0] * max(1, int(seconds))
    for t in done:
        slot = int(t - start)
        if slot < len(per_second):
            per_second[slot] += 1

    def quantile(q: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else None

    return {
        "transport": transport,
        "ops": len(done),
        "seconds": seconds,
        "rate": len(done) / seconds,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "errors": sum(t.error_count for t in tallies),
        "first_errors": [e for t in tallies for e in t.errors][:MAX_ERRORS_KEPT],
        "per_second": per_second,
        "threads": len(tallies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mixed_driver", description=__doc__)
    parser.add_argument("--transport", choices=("grpc", "rest"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", required=True, help="a file holding the bearer token (not argv)")
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--start-at", type=float, default=None, help="time.monotonic() at which the window opens")
    parser.add_argument("--warmup", type=float, default=1.0, help="without --start-at: seconds before the window")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--verify", action="store_true", help="decrypt every data key again and compare (tests)")
    args = parser.parse_args(argv)
    print(json.dumps(drive(args)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
