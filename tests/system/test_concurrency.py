"""32 concurrent callers, each on its own channel, mixing CreateDataKey and DecryptDataKey.

The gateway runs as its own `kmsgw serve` process so "still alive" means the process, not a
thread of the test runner. No timing assertions: only correctness and survival.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import grpc

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.serve import cli, start_serve

CALLERS = 32
SECONDS = 5.0


def test_32_concurrent_callers(tmp_path):
    data_dir = tmp_path / "var"
    srv = start_serve(data_dir)
    try:
        project_id = uuid.uuid4().hex
        token = cli(data_dir, "token", "create", "--project-id", project_id)["token"]
        md = (("x-auth-token", token),)
        setup = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        stub = pb_grpc.KeyManagementServiceStub(setup)
        key_ids = [
            stub.CreateKey(pb.CreateKeyRequest(key_alias=f"c{i}"), metadata=md, timeout=30).key_info.key_id
            for i in range(2)
        ]
        setup.close()

        shared: list[tuple[str, dict[str, str], bytes, bytes]] = []  # key_id, ctx, cipher_text, plain_text
        errors: list[str] = []
        counts = {"create": 0, "decrypt": 0, "verified": 0}
        lock = threading.Lock()
        start = threading.Barrier(CALLERS)
        deadline_box: list[float] = []

        def caller(n: int) -> None:
            rng = random.Random(n)
            channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
            kms = pb_grpc.KeyManagementServiceStub(channel)
            mine: list[tuple[str, dict[str, str], bytes, bytes]] = []
            try:
                start.wait(30)
                if n == 0:
                    deadline_box.append(time.monotonic() + SECONDS)
                while not deadline_box:
                    time.sleep(0.001)
                deadline = deadline_box[0]
                while time.monotonic() < deadline:
                    try:
                        if not mine or rng.random() < 0.5:
                            key_id, ctx = rng.choice(key_ids), {"caller": str(n), "i": str(len(mine))}
                            bits = rng.choice([128, 256, 512])
                            dk = kms.CreateDataKey(
                                pb.CreateDataKeyRequest(key_id=key_id, datakey_length=bits, encryption_context=ctx),
                                metadata=md,
                                timeout=30,
                            )
                            if len(dk.plain_text) != bits // 8:
                                errors.append(f"caller {n}: data key of {len(dk.plain_text)} bytes, wanted {bits // 8}")
                            item = (key_id, ctx, dk.cipher_text, dk.plain_text)
                            mine.append(item)
                            with lock:
                                shared.append(item)
                                counts["create"] += 1
                        else:
                            # Half the time another caller's data key (maybe made by another worker).
                            with lock:
                                pick = rng.choice(shared) if rng.random() < 0.5 else rng.choice(mine)
                            key_id, ctx, cipher_text, plain = pick
                            out = kms.DecryptDataKey(
                                pb.DecryptDataKeyRequest(
                                    key_id=key_id,
                                    cipher_text=cipher_text,
                                    datakey_cipher_length=len(plain),
                                    encryption_context=ctx,
                                ),
                                metadata=md,
                                timeout=30,
                            )
                            with lock:
                                counts["decrypt"] += 1
                                if out.data_key == plain:
                                    counts["verified"] += 1
                                else:
                                    errors.append(f"caller {n}: decrypted key differs from the created one")
                    except grpc.RpcError as exc:
                        errors.append(f"caller {n}: {exc.code()} {exc.details()}")
            except Exception as exc:  # a broken barrier or anything else is a failure, not a hang
                errors.append(f"caller {n}: {exc!r}")
            finally:
                channel.close()

        threads = [threading.Thread(target=caller, args=(n,), name=f"caller-{n}") for n in range(CALLERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 90)
        assert not [t.name for t in threads if t.is_alive()], "callers did not finish"

        assert errors == [], errors[:10]
        assert srv.proc.poll() is None, "the gateway process died"
        assert counts["create"] > CALLERS and counts["decrypt"] > CALLERS, counts
        assert counts["verified"] == counts["decrypt"]
        plains = [p for *_, p in shared]
        assert len(set(plains)) == len(plains), "two data keys were equal"

        # Still serving after the storm: every key made during it decrypts.
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        stub = pb_grpc.KeyManagementServiceStub(channel)
        sample = random.Random(0).sample(shared, min(200, len(shared)))
        out = stub.BatchDecryptDataKey(
            pb.BatchDecryptDataKeyRequest(
                items=[
                    pb.DecryptDataKeyRequest(
                        key_id=k, cipher_text=c, datakey_cipher_length=len(p), encryption_context=ctx
                    )
                    for k, ctx, c, p in sample
                ]
            ),
            metadata=md,
            timeout=60,
        )
        assert [r.data_key for r in out.results] == [p for *_, p in sample]
        channel.close()
    finally:
        assert srv.terminate() == 0
