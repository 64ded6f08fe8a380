"""64 concurrent callers on every hot operation of one transport: the load of tests/system/test_load.py and
of the benchmark scenario ``gateway.load_64_callers``.

``python -m benchmarks.callers64 --transport grpc|rest --port P --token-file F --project-id P
--key-id K --seconds S [--callers 64] [--warmup 3] [--wait]``

Each caller cycles through the hot operations (data keys with and without plaintext, encrypt /
decrypt of data keys and of data, random bytes, the batch calls), starting at a different one so
every operation is under load at every moment, and checks every answer: a data key decrypts back
to itself, data back to what was sealed. After ``--warmup`` seconds it prints ``warm``; with
``--wait`` it then waits for a line on stdin (the caller measures its baseline meanwhile). Then it
counts ``--seconds`` and prints one JSON line: operations completed per name, errors (the first
20, with their reason), steps, p50/p99 of a step in ms, the window's length.

One transport per process: grpc.aio shares an event loop badly with other I/O (its completions
starve), and the load generator must not be the bottleneck on the 2 cores it shares with the
server. REST uses a minimal HTTP/1.1 keep-alive client on asyncio streams (one connection per
caller): httpx costs several times its CPU per request. The bearer token travels in a file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CALLERS = 64
CHANNELS = 8  # gRPC connections (SO_REUSEPORT spreads connections, not calls, over the workers)
BATCH = 50  # items per batch call
CONTEXT = {"test": "load"}
HOT_GRPC = {
    "CreateDataKey", "CreateDataKeyWithoutPlaintext", "EncryptDataKey", "DecryptDataKey", "EncryptData", "DecryptData",
    "GenerateRandom", "BatchCreateDataKey", "BatchEncryptDataKey", "BatchDecryptDataKey",
}  # fmt: skip
HOT_REST = {
    "create-datakey", "create-datakey-without-plaintext", "encrypt-datakey", "decrypt-datakey", "encrypt-data",
    "decrypt-data", "gen-random", "batch-create-datakey", "batch-decrypt-datakey", "batch-encrypt-datakey",
}  # fmt: skip


@dataclass
class Stats:
    ok: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.ok.clear()
        self.errors.clear()
        self.latencies.clear()


# -- one caller per transport: every hot operation, every answer checked ------------------------
Step = Callable[[], Awaitable[list[str]]]  # runs one or more operations, returns their names


def grpc_steps(stub: Any, key_id: str, md: list[tuple[str, str]]) -> list[Step]:
    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

    async def datakey() -> list[str]:
        dk = await stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id, encryption_context=CONTEXT), metadata=md)
        back = await stub.DecryptDataKey(
            pb.DecryptDataKeyRequest(
                key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32, encryption_context=CONTEXT
            ),
            metadata=md,
        )
        assert back.data_key == dk.plain_text and len(dk.plain_text) == 32
        return ["CreateDataKey", "DecryptDataKey"]

    async def without_plaintext() -> list[str]:
        dk = await stub.CreateDataKeyWithoutPlaintext(pb.CreateDataKeyRequest(key_id=key_id), metadata=md)
        assert not dk.plain_text and dk.cipher_text
        return ["CreateDataKeyWithoutPlaintext"]

    async def encrypt_datakey() -> list[str]:
        dek = os.urandom(32)
        sealed = await stub.EncryptDataKey(
            pb.EncryptDataKeyRequest(
                key_id=key_id, plain_text=dek + hashlib.sha256(dek).digest(), datakey_plain_length=32
            ),
            metadata=md,
        )
        back = await stub.DecryptDataKey(
            pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=sealed.cipher_text, datakey_cipher_length=32),
            metadata=md,
        )
        assert back.data_key == dek
        return ["EncryptDataKey", "DecryptDataKey"]

    async def data() -> list[str]:
        plain = os.urandom(64)
        sealed = await stub.EncryptData(
            pb.EncryptDataRequest(key_id=key_id, plain_text=plain, encryption_context=CONTEXT), metadata=md
        )
        back = await stub.DecryptData(
            pb.DecryptDataRequest(cipher_text=sealed.cipher_text, encryption_context=CONTEXT), metadata=md
        )
        assert back.plain_text == plain
        return ["EncryptData", "DecryptData"]

    async def random() -> list[str]:
        out = await stub.GenerateRandom(pb.GenerateRandomRequest(random_data_length=512), metadata=md)
        assert len(out.random_data) == 64
        return ["GenerateRandom"]

    async def batches() -> list[str]:
        made = await stub.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=BATCH), metadata=md)
        assert len(made.results) == BATCH and not any(r.HasField("error") for r in made.results)
        deks = [os.urandom(32) for _ in range(BATCH)]
        sealed = await stub.BatchEncryptDataKey(
            pb.BatchEncryptDataKeyRequest(
                items=[
                    pb.EncryptDataKeyRequest(
                        key_id=key_id, plain_text=d + hashlib.sha256(d).digest(), datakey_plain_length=32
                    )
                    for d in deks
                ]
            ),
            metadata=md,
        )
        blobs = [r.cipher_text for r in made.results] + [r.cipher_text for r in sealed.results]
        opened = await stub.BatchDecryptDataKey(
            pb.BatchDecryptDataKeyRequest(
                items=[pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=b, datakey_cipher_length=32) for b in blobs]
            ),
            metadata=md,
        )
        assert [r.data_key for r in opened.results] == [r.plain_text for r in made.results] + deks
        return ["BatchCreateDataKey", "BatchEncryptDataKey", "BatchDecryptDataKey"]

    return [datakey, without_plaintext, encrypt_datakey, data, random, batches]


class RawHttp:
    """One keep-alive HTTP/1.1 connection per caller on asyncio streams: a fraction of httpx's CPU per
    request, so the load generator (sharing the 2 cores with the server) is not the bottleneck."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.auth = token.encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = b"POST %s HTTP/1.1\r\nHost: load\r\nX-Auth-Token: %s\r\nContent-Type: application/json\r\n" % (
            path.encode(),
            self.auth,
        )
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        answer = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        start = answer.index(b"content-length:") + 15
        payload = await self.reader.readexactly(int(answer[start : answer.index(b"\r\n", start)]))
        if b"connection: close" in answer:
            await self.close()
        return int(answer[9:12]), payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def rest_steps(http: RawHttp, base: str, key_id: str) -> list[Step]:
    async def post(op: str, body: dict) -> dict:
        status, payload = await http.post(f"{base}/{op}", json.dumps(body).encode())
        assert status == 200, f"{op}: {status} {payload[:200]!r}"
        return json.loads(payload)

    async def datakey() -> list[str]:
        dk = await post("create-datakey", {"key_id": key_id, "encryption_context": CONTEXT})
        body = {"key_id": key_id, "cipher_text": dk["cipher_text"], "datakey_cipher_length": "32"}
        back = await post("decrypt-datakey", {**body, "encryption_context": CONTEXT})
        assert back["data_key"] == dk["plain_text"]
        return ["create-datakey", "decrypt-datakey"]

    async def without_plaintext() -> list[str]:
        dk = await post("create-datakey-without-plaintext", {"key_id": key_id})
        assert dk["cipher_text"] and "plain_text" not in dk
        return ["create-datakey-without-plaintext"]

    async def encrypt_datakey() -> list[str]:
        dek = os.urandom(32)
        plain = (dek + hashlib.sha256(dek).digest()).hex()
        sealed = await post("encrypt-datakey", {"key_id": key_id, "plain_text": plain, "datakey_plain_length": "32"})
        body = {"key_id": key_id, "cipher_text": sealed["cipher_text"], "datakey_cipher_length": "32"}
        assert (await post("decrypt-datakey", body))["data_key"].lower() == dek.hex()
        return ["encrypt-datakey", "decrypt-datakey"]

    async def data() -> list[str]:
        plain = base64.b64encode(os.urandom(48)).decode()
        sealed = await post("encrypt-data", {"key_id": key_id, "plain_text": plain, "encryption_context": CONTEXT})
        back = await post("decrypt-data", {"cipher_text": sealed["cipher_text"], "encryption_context": CONTEXT})
        assert back["plain_text"] == plain
        return ["encrypt-data", "decrypt-data"]

    async def random() -> list[str]:
        assert len((await post("gen-random", {"random_data_length": "512"}))["random_data"]) == 128
        return ["gen-random"]

    async def batches() -> list[str]:
        made = await post("batch-create-datakey", {"key_id": key_id, "count": str(BATCH)})
        items = [
            {"key_id": key_id, "cipher_text": r["cipher_text"], "datakey_cipher_length": "32"} for r in made["results"]
        ]
        deks = [os.urandom(32) for _ in range(BATCH)]
        plains = [{"key_id": key_id, "plain_text": (d + hashlib.sha256(d).digest()).hex(), "datakey_plain_length": "32"}
                  for d in deks]  # fmt: skip
        sealed = await post("batch-encrypt-datakey", {"items": plains})
        items += [{"key_id": key_id, "cipher_text": r["cipher_text"], "datakey_cipher_length": "32"}
                  for r in sealed["results"]]  # fmt: skip
        opened = await post("batch-decrypt-datakey", {"items": items})
        expected = [r["plain_text"] for r in made["results"]] + [d.hex() for d in deks]
        assert [r["data_key"].lower() for r in opened["results"]] == [e.lower() for e in expected]
        return ["batch-create-datakey", "batch-encrypt-datakey", "batch-decrypt-datakey"]

    return [datakey, without_plaintext, encrypt_datakey, data, random, batches]


async def caller(index: int, steps: list[Step], stats: Stats, stop: asyncio.Event) -> None:
    i = index  # each caller starts at another operation: every one is under load at every moment
    while not stop.is_set():
        step = steps[i % len(steps)]
        i += 1
        start = time.monotonic()
        try:
            names = await step()
        except Exception as exc:  # every failure is counted and reported, none stops the caller
            stats.errors.append(f"{step.__name__}: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        stats.latencies.append(time.monotonic() - start)
        stats.ok.update(names)


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    token = Path(args.token_file).read_text().strip()
    base = f"/v1.0/{args.project_id}/kms"
    stats, stop = Stats(), asyncio.Event()
    closers: list[Callable[[], Awaitable[Any]]] = []
    if args.transport == "grpc":
        import grpc

        from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc

        md = [("x-auth-token", token)]
        channels = [grpc.aio.insecure_channel(f"127.0.0.1:{args.port}") for _ in range(CHANNELS)]
        closers += [channel.close for channel in channels]
        steps = [grpc_steps(pb_grpc.KeyManagementServiceStub(channels[i % CHANNELS]), args.key_id, md)
                 for i in range(args.callers)]  # fmt: skip
    else:
        https = [RawHttp(args.port, token) for _ in range(args.callers)]
        closers += [http.close for http in https]
        steps = [rest_steps(http, base, args.key_id) for http in https]
    tasks = [asyncio.create_task(caller(i, steps[i], stats, stop)) for i in range(args.callers)]
    try:
        await asyncio.sleep(args.warmup)
        print("warm", flush=True)
        if args.wait:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stats.reset()
        started = time.monotonic()
        await asyncio.sleep(args.seconds)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        seconds = time.monotonic() - started
    finally:
        for close in closers:
            await close()
    lat = sorted(stats.latencies)
    return {
        "transport": args.transport,
        "ops": dict(stats.ok),
        "errors": len(stats.errors),
        "first_errors": stats.errors[:20],
        "steps": len(lat),
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else None,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callers64", description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["grpc", "rest"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--callers", type=int, default=CALLERS)
    parser.add_argument("--wait", action="store_true", help="after warm-up, wait for a line on stdin")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(drive(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
