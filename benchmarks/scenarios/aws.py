"""The AWS KMS API (docs/aws-kms.md) beside moto_server, the emulator a tester would use today.

- ``aws.generate_data_key`` / ``aws.decrypt``: GenerateDataKey (AES_256) and Decrypt of one of its
  blobs through the AWS API of ``kmsgw serve --aws --workers 2``, under ``wrk -t2 -c16`` like the
  moto and REST rows: one request signed with SigV4 by botocore, replayed for the whole window
  (valid inside the 5-minute skew; there is no nonce store, as on AWS). The goal, checked against
  ``moto.generate_data_key`` of the same run: GenerateDataKey >= 20 x moto's.
- ``aws.boto3_generate_data_key`` / ``aws.boto3_generate_data_key_moto``: boto3's own client loop
  (one thread, a fresh signature per call, botocore's parsing) against the gateway and against
  moto_server: what a Python user sees.

``python -m benchmarks.aws_kms`` runs the same comparison standalone (one JSON line per row).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import BENCH_DIR
from benchmarks.harness import LOOPBACK, Context, Result, Skip, free_port, scenario, wait_for_port
from benchmarks.loaders import wrk_available, wrk_load
from benchmarks.scenarios.gateway import (
    DEFAULT_WORKERS,
    GatewayEndpoints,
    _finish,
    _gateway_env,
    _run_child,
    start_gateway,
)
from benchmarks.scenarios.moto_peer import _moto_server

REGION = "us-east-1"
ACCOUNT = "123456789012"
SCRIPT = BENCH_DIR / "wrk" / "aws_signed.lua"
GOAL = 20.0  # x moto_server's GenerateDataKey


def _setup(ctx: Context, gw: GatewayEndpoints) -> dict[str, str]:
    """The run's AWS access key and key (made once), and one GenerateDataKey blob to decrypt."""
    setup = ctx.state.get("aws.setup")
    if setup is None:
        data_dir = str(ctx.workdir / "gateway")
        out = _run_child(ctx, "kmsgw-aws-credentials",
                         [ctx.python, "-m", "gateway", "aws", "credentials", "create", "--data-dir", data_dir,
                          "--account-id", ACCOUNT], timeout=120, env=_gateway_env())  # fmt: skip
        cred = json.loads(out)
        kms = _client(gw.rest_url, cred["AccessKeyId"], cred["SecretAccessKey"])
        key = kms.create_key(Description="benchmark")["KeyMetadata"]["Arn"]
        blob = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["CiphertextBlob"]
        setup = {**cred, "KeyArn": key, "Blob": base64.b64encode(blob).decode()}
        ctx.state["aws.setup"] = setup
    assert isinstance(setup, dict)
    return setup


def _client(url: str, access_key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("kms", endpoint_url=url, region_name=REGION, aws_access_key_id=access_key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))  # fmt: skip


def signed_request(
    workdir: Path, url: str, access_key: str, secret: str, target: str, body: dict[str, Any]
) -> tuple[Path, Path]:
    """(body file, headers file) of one request botocore signs now, for ``wrk/aws_signed.lua``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    raw = json.dumps(body).encode()
    headers = {"X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1"}
    request = AWSRequest("POST", url + "/", data=raw, headers=headers)
    SigV4Auth(Credentials(access_key, secret), "kms", REGION).add_auth(request)
    stem = workdir / f"aws-{target}-{time.monotonic_ns()}"
    body_file, headers_file = stem.with_suffix(".body"), stem.with_suffix(".headers")
    body_file.write_bytes(raw)
    lines = [f"{k}: {v}\n" for k, v in request.headers.items() if k.lower() != "x-amz-target"]
    headers_file.write_text("".join(lines))
    return body_file, headers_file


def probe(url: str, target: str, body_file: Path, headers_file: Path, expect: set[str]) -> None:
    """The signed request answers 200 with the members ``expect`` before wrk replays it: a load
    that counts only statuses must know it measures the operation."""
    headers = dict(line.split(": ", 1) for line in headers_file.read_text().splitlines())
    headers["X-Amz-Target"] = f"TrentService.{target}"
    request = urllib.request.Request(url + "/", data=body_file.read_bytes(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{target} answered {exc.code}: {exc.read()[:300]!r}") from None
    if not expect <= answer.keys():
        raise RuntimeError(f"{target} answered without {sorted(expect - answer.keys())}")


def _vs_moto(ctx: Context, result: Result) -> Result:
    moto = ctx.results.get("moto.generate_data_key")
    if moto is not None and moto.rate:
        ratio = result.rate / moto.rate
        result.notes += f"; {ratio:.1f} x moto.generate_data_key of this run (goal >= {GOAL:g} x)"
        result.extra["x moto.generate_data_key"] = ratio
    return result


def _wrk_row(
    ctx: Context, target: str, body_of: Callable[[dict[str, str]], dict[str, Any]], expect: set[str]
) -> Result:
    if not wrk_available():
        raise Skip("wrk is not installed (apt-get install wrk): the signed request is replayed by wrk")
    gw = start_gateway(ctx, DEFAULT_WORKERS, aws=True)
    setup = _setup(ctx, gw)
    files = signed_request(
        ctx.workdir, gw.rest_url, setup["AccessKeyId"], setup["SecretAccessKey"], target, body_of(setup)
    )
    probe(gw.rest_url, target, *files, expect)
    result = wrk_load(ctx, gw.rest_url + "/", SCRIPT, [target, *map(str, files)])
    result.notes += "; one SigV4-signed request replayed"
    return _finish(gw, result)


@scenario("aws.generate_data_key", "AWS KMS API GenerateDataKey (signed, replayed; wrk -t2 -c16), 2 workers")
def generate_data_key(ctx: Context) -> Result:
    """GenerateDataKey (AES_256) requests/s through the AWS API under wrk, --workers 2; goal >= 20 x moto."""

    def body(setup: dict[str, str]) -> dict[str, Any]:
        return {"KeyId": setup["KeyArn"], "KeySpec": "AES_256"}

    return _vs_moto(ctx, _wrk_row(ctx, "GenerateDataKey", body, {"Plaintext", "CiphertextBlob"}))


@scenario("aws.decrypt", "AWS KMS API Decrypt of a data-key blob (signed, replayed; wrk -t2 -c16), 2 workers")
def decrypt(ctx: Context) -> Result:
    """Decrypt requests/s (no KeyId: the blob names its key) through the AWS API under wrk, --workers 2."""

    def body(setup: dict[str, str]) -> dict[str, Any]:
        return {"CiphertextBlob": setup["Blob"]}

    return _wrk_row(ctx, "Decrypt", body, {"Plaintext", "KeyId"})


def _boto3_loop(ctx: Context, client: Any, key_id: str) -> Result:
    """Calls/s of one thread calling GenerateDataKey through boto3 (warm-up first, untimed)."""
    end = time.monotonic() + ctx.warmup
    while time.monotonic() < end:
        client.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    latencies: list[float] = []
    start = time.perf_counter()
    end_at = start + ctx.seconds
    while (now := time.perf_counter()) < end_at:
        client.generate_data_key(KeyId=key_id, KeySpec="AES_256")
        latencies.append(time.perf_counter() - now)
    seconds = time.perf_counter() - start
    latencies.sort()
    return Result(
        rate=len(latencies) / seconds, unit="req/s", ops=len(latencies), seconds=seconds,
        p50_ms=latencies[len(latencies) // 2] * 1000, p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        notes="boto3 client loop, 1 thread, a fresh SigV4 signature per call",
    )  # fmt: skip


@scenario("aws.boto3_generate_data_key", "AWS KMS API GenerateDataKey, boto3 client loop (1 thread), 2 workers")
def boto3_generate_data_key(ctx: Context) -> Result:
    """What a Python user sees: boto3's GenerateDataKey calls/s against the gateway, one thread."""
    gw = start_gateway(ctx, DEFAULT_WORKERS, aws=True)
    setup = _setup(ctx, gw)
    client = _client(gw.rest_url, setup["AccessKeyId"], setup["SecretAccessKey"])
    return _finish(gw, _boto3_loop(ctx, client, setup["KeyArn"]))


@scenario("aws.boto3_generate_data_key_moto", "moto_server GenerateDataKey, boto3 client loop (1 thread)")
def boto3_generate_data_key_moto(ctx: Context) -> Result:
    """The same boto3 loop against moto_server (the peer), in the same run."""
    port = free_port()
    proc = ctx.spawn("moto-boto3", [_moto_server(), "-H", LOOPBACK, "-p", str(port)])
    wait_for_port(port, proc, timeout=60)
    client = _client(f"http://{LOOPBACK}:{port}", "FOOBARKEY", "FOOBARSECRET")
    key_id = client.create_key(Description="benchmark")["KeyMetadata"]["KeyId"]
    result = _boto3_loop(ctx, client, key_id)
    ours = ctx.results.get("aws.boto3_generate_data_key")
    if ours is not None and result.rate:
        result.notes += f"; the gateway's boto3 loop is {ours.rate / result.rate:.1f} x this"
    return result
