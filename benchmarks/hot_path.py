"""What an HTTP request costs outside the transport, in one process, against the real token and store.

An in-process loop calls the HTTP listener's app (ASGI) directly, no socket and no uvicorn: C
requests in flight on one event loop beside the process's one HSM thread, as in a worker. What it
measures is everything a request pays between the transport and the token: authentication, the
store's freshness check (``generation``), the hand-off to the HSM thread and back, the audit line,
the request id, metrics (written to files, as in a worker of ``serve --workers N``). Rows: AWS
GenerateDataKey (a botocore-signed request replayed, as under wrk in benchmarks/scenarios/aws.py)
and REST create-datakey. Rounds alternate the rows; the figures are requests/s and the process's
CPU per request (both threads).

    .venv/bin/python -m benchmarks.hot_path [--seconds 3] [--concurrency 16] [--rounds 3]

Run it from the tree to measure (it imports ``gateway`` from the current directory): an A/B is this
script run alternately in two checkouts. Prints one JSON line per row and round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT = "0123456789abcdef0123456789abcdef"
HOST = "127.0.0.1:8080"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _cli(data_dir: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    argv = [sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, timeout=120)
    return dict(json.loads(out.stdout))


def _scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }


async def _call(app: App, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    """One request through the app: (status, body)."""
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(dict(scope, headers=list(scope["headers"])), receive, send)
    return status, b"".join(chunks)


def _aws_request(cred: dict[str, Any], target: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    raw = json.dumps(body).encode()
    headers = {"X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1"}
    req = AWSRequest("POST", f"http://{HOST}/", data=raw, headers=headers)
    SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "kms", REGION).add_auth(req)
    signed = {**dict(req.headers.items()), "Host": HOST, "Content-Length": str(len(raw))}
    return _scope("POST", "/", signed), raw


async def _loop(app: App, scope: dict[str, Any], body: bytes, seconds: float, concurrency: int) -> tuple[int, int]:
    """(requests answered 200, others) in ``seconds`` with ``concurrency`` in flight."""
    stop = time.monotonic() + seconds
    counts = [0, 0]

    async def caller() -> None:
        while time.monotonic() < stop:
            status, _ = await _call(app, scope, body)
            counts[status != 200] += 1

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return counts[0], counts[1]


async def _main(args: argparse.Namespace, data_dir: Path) -> None:
    from gateway.app import aws_wiring
    from gateway.app.config import load
    from gateway.app.runtime import Runtime
    from gateway.rest.app import create_app

    token = _cli(data_dir, "token", "create", "--project-id", PROJECT, "--ttl", "86400")["token"]
    cred = _cli(data_dir, "aws", "credentials", "create", "--account-id", ACCOUNT)
    cfg = load(None, data_dir=str(data_dir))
    cfg.aws.enabled = True
    rt = Runtime.open(cfg)
    try:
        services = rt.services
        app: App = aws_wiring.http_app(cfg, services, create_app(services))
        status, out = await _call(app, *_aws_request(cred, "CreateKey", {"Description": "hot path"}))
        assert status == 200, out
        arn = json.loads(out)["KeyMetadata"]["Arn"]
        rest_headers = {"X-Auth-Token": token, "Content-Type": "application/json", "Host": HOST}
        rest_key = _scope("POST", f"/v1.0/{PROJECT}/kms/create-key", rest_headers)
        status, out = await _call(app, rest_key, json.dumps({"key_alias": "hot-path"}).encode())
        assert status == 200, out
        key_id = json.loads(out)["key_info"]["key_id"]
        rows = {
            "aws.generate_data_key": _aws_request(cred, "GenerateDataKey", {"KeyId": arn, "KeySpec": "AES_256"}),
            "rest.create_datakey": (
                _scope("POST", f"/v1.0/{PROJECT}/kms/create-datakey", rest_headers),
                json.dumps({"key_id": key_id, "datakey_length": "256"}).encode(),
            ),
        }
        for scope, body in rows.values():  # warm-up: caches, lazy imports
            await _loop(app, scope, body, 1.0, args.concurrency)
        for round_no in range(1, args.rounds + 1):
            for name, (scope, body) in rows.items():
                load1 = os.getloadavg()[0]
                cpu0, t0 = time.process_time(), time.perf_counter()
                ok, bad = await _loop(app, scope, body, args.seconds, args.concurrency)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
                print(json.dumps({
                    "row": name, "round": round_no, "rate": round(ok / wall, 1), "errors": bad,
                    "cpu_us_per_request": round(cpu / max(ok, 1) * 1e6, 1), "load1": load1,
                }), flush=True)  # fmt: skip
    finally:
        rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kmsgw-hot-path-") as tmp:
        # Metrics as in a worker of `kmsgw serve --workers N` (files, one lock per process); read at
        # prometheus_client's import, which the gateway's imports in _main make.
        (Path(tmp) / "metrics").mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tmp) / "metrics")
        asyncio.run(_main(args, Path(tmp) / "var"))


if __name__ == "__main__":
    main()
