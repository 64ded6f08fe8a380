"""The AWS KMS API beside moto_server, in one run: GenerateDataKey and Decrypt under wrk (a request
signed once with SigV4 and replayed inside the 5-minute skew), moto_server's GenerateDataKey under
the same wrk, and boto3's own client loop against both (what a Python user sees).

    .venv/bin/python -m benchmarks.aws_kms [--seconds 5] [--connections 32] [--workers 2]

Prints one JSON line per row; the goal is GenerateDataKey >= 20 x moto_server's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def _signed_files(tmp: Path, url: str, cred: dict[str, str], target: str, body: dict[str, Any]) -> tuple[Path, Path]:
    raw = json.dumps(body).encode()
    req = AWSRequest("POST", url + "/", data=raw, headers={
        "X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1"})  # fmt: skip
    SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "kms", REGION).add_auth(req)
    stem = f"{target}-{cred['AccessKeyId']}"
    body_file, headers_file = tmp / f"{stem}.body", tmp / f"{stem}.headers"
    body_file.write_bytes(raw)
    headers_file.write_text("".join(f"{k}: {v}\n" for k, v in req.headers.items() if k.lower() != "x-amz-target"))
    return body_file, headers_file


def _wrk(url: str, seconds: float, connections: int, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "-s",
            str(HERE / "wrk" / "aws_signed.lua"),
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line[8:])
    data["rps"] = round(data["requests"] / (data["duration_us"] / 1e6), 1)
    return data


def _check_replay(url: str, target: str, body_file: Path, headers_file: Path) -> None:
    """The signed request answers 200 before wrk replays it (else every row would be errors)."""
    import httpx

    headers = dict(line.split(": ", 1) for line in headers_file.read_text().splitlines())
    headers["X-Amz-Target"] = f"TrentService.{target}"
    resp = httpx.post(url + "/", content=body_file.read_bytes(), headers=headers, timeout=30)
    if resp.status_code != 200:
        raise RuntimeError(f"{target}: {resp.status_code} {resp.text[:300]}")


def _boto_loop(client: Any, seconds: float, key_id: str) -> float:
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        client.generate_data_key(KeyId=key_id, KeySpec="AES_256")
        n += 1
    return round(n / seconds, 1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="kmsgw-aws-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    data_dir = tmp / "var"
    kmsgw = [sys.executable, "-m", "gateway"]
    cred = json.loads(subprocess.run([*kmsgw, "aws", "credentials", "create", "--data-dir", str(data_dir),
                                      "--account-id", "123456789012"], capture_output=True, text=True, env=env,
                                     check=True).stdout)  # fmt: skip
    port, moto_port = _free_port(), _free_port()
    gw = subprocess.Popen(
        [
            *kmsgw,
            "serve",
            "--aws",
            "--data-dir",
            str(data_dir),
            "--workers",
            str(args.workers),
            "--rest-listen",
            f"127.0.0.1:{port}",
            "--grpc-listen",
            "127.0.0.1:0",
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    moto_bin = str(Path(sys.executable).parent / "moto_server")
    moto = subprocess.Popen([moto_bin, "-p", str(moto_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows: list[dict[str, Any]] = []
    try:
        _wait(port)
        _wait(moto_port)
        url, moto_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{moto_port}"
        ours = boto3.client("kms", endpoint_url=url, region_name=REGION, aws_access_key_id=cred["AccessKeyId"],
                            aws_secret_access_key=cred["SecretAccessKey"])  # fmt: skip
        theirs = boto3.client("kms", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="FOOBARKEY",
                              aws_secret_access_key="FOOBARSECRET")  # fmt: skip
        key = ours.create_key()["KeyMetadata"]["Arn"]
        moto_key = theirs.create_key()["KeyMetadata"]["KeyId"]
        blob = ours.generate_data_key(KeyId=key, KeySpec="AES_256")["CiphertextBlob"]
        import base64

        gdk = _signed_files(tmp, url, cred, "GenerateDataKey", {"KeyId": key, "KeySpec": "AES_256"})
        dec = _signed_files(tmp, url, cred, "Decrypt", {"CiphertextBlob": base64.b64encode(blob).decode()})
        moto_cred = {"AccessKeyId": "FOOBARKEY", "SecretAccessKey": "FOOBARSECRET"}
        mgdk = _signed_files(tmp, moto_url, moto_cred, "GenerateDataKey", {"KeyId": moto_key, "KeySpec": "AES_256"})
        for target, (body_file, headers_file), at in (("GenerateDataKey", gdk, url), ("Decrypt", dec, url)):
            _check_replay(at, target, body_file, headers_file)
        secs, conns = args.seconds, args.connections
        rows.append({"row": "aws.generate_data_key wrk", **_wrk(url, secs, conns, "GenerateDataKey", *map(str, gdk))})
        rows.append({"row": "aws.decrypt wrk", **_wrk(url, secs, conns, "Decrypt", *map(str, dec))})
        rows.append(
            {"row": "moto.generate_data_key wrk", **_wrk(moto_url, secs, conns, "GenerateDataKey", *map(str, mgdk))}
        )
        rows.append({"row": "aws.generate_data_key boto3 loop", "rps": _boto_loop(ours, secs, key)})
        rows.append({"row": "moto.generate_data_key boto3 loop", "rps": _boto_loop(theirs, secs, moto_key)})
    finally:
        for proc in (gw, moto):
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    for row in rows:
        print(json.dumps(row))
    ratio = rows[0]["rps"] / max(rows[2]["rps"], 1e-9)
    print(json.dumps({"row": "ratio generate_data_key wrk (gateway / moto)", "x": round(ratio, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
