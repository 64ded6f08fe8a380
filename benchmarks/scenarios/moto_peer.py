"""The peer: moto_server's AWS KMS mock answering GenerateDataKey, the thing a tester would use today.

Found while building this: moto does not verify request signatures, but it chooses the service
from the Authorization header's credential scope. An unsigned POST with the KMS target header is
routed to S3 and answered ``200 ListBuckets`` -- a load test that only counts 2xx would happily
measure the wrong service. So the scenario probes one request first, checks the answer really is
a data key, and adds a static SigV4-shaped header (scope ``.../kms/aws4_request``) when needed.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.harness import LOOPBACK, Context, Result, Skip, free_port, scenario, wait_for_port
from benchmarks.loaders import WRK_DIR, python_http_load, wrk_available, wrk_load

REGION = "us-east-1"
STATIC_AUTH = (
    f"AWS4-HMAC-SHA256 Credential=bench/20260101/{REGION}/kms/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-target, Signature=" + "0" * 64
)
BASE_HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.GenerateDataKey"}


def _moto_server() -> str:
    local = Path(sys.executable).parent / "moto_server"
    found = str(local) if local.exists() else shutil.which("moto_server")
    if not found:
        raise Skip("moto_server not installed (pip install 'moto[server]')")
    return found


def _is_data_key(url: str, body: bytes, headers: dict[str, str]) -> bool:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, ValueError):
        return False
    return isinstance(answer, dict) and {"CiphertextBlob", "Plaintext"} <= answer.keys()


@scenario("moto.generate_data_key", "moto_server KMS GenerateDataKey (peer)")
def moto_generate_data_key(ctx: Context) -> Result:
    """Requests/s of moto's GenerateDataKey (AES_256) over HTTP under wrk -t2 -c16."""
    import boto3

    binary = _moto_server()
    port = free_port()
    proc = ctx.spawn("moto", [binary, "-H", LOOPBACK, "-p", str(port)])
    wait_for_port(port, proc, timeout=60)
    url = f"http://{LOOPBACK}:{port}/"
    kms = boto3.client(
        "kms", endpoint_url=url, region_name=REGION, aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    key_id = kms.create_key(Description="benchmark")["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id, "KeySpec": "AES_256"}).encode()

    if _is_data_key(url, body, BASE_HEADERS):
        auth, how = "", "unsigned"
    elif _is_data_key(url, body, {**BASE_HEADERS, "Authorization": STATIC_AUTH}):
        auth, how = STATIC_AUTH, "static unverified SigV4 header (unsigned is routed to S3)"
    else:
        raise RuntimeError("moto answered GenerateDataKey with no data key, signed or not")

    if wrk_available():
        result = wrk_load(ctx, url, WRK_DIR / "kms_generate_data_key.lua", [key_id, auth])
    else:
        headers = {**BASE_HEADERS, **({"Authorization": auth} if auth else {})}
        result = python_http_load(ctx, url, body, headers)
    result.notes += f"; {how}"
    return result
