"""Every XKS request leaves one audit line (transport xks, principal = access key id, request id =
kmsRequestId, the gateway key id) and one log line with the request metadata; neither ever holds
a plaintext, an AAD, a secret or a signature. Metrics count XKS under transport="xks"."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.xks.conftest import run_kmsgw
from tests.xks.support import PRINCIPAL, XksClient, b64, decrypt_body, encrypt_body, meta


def _audit_lines(gw) -> list[dict]:
    return [json.loads(line) for line in (gw.data_dir / "audit.jsonl").read_text().splitlines() if line]


def _wait_for(find, what: str):
    deadline = time.monotonic() + 5
    while (found := find()) is None:
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def test_audit_lines_and_request_logs(xks_gateway):
    client = xks_gateway.client()
    key_id, xks_key = xks_gateway.mapped_key()
    plaintext, aad = b"plaintext-that-must-never-be-logged", b"aad-that-must-never-be-logged"
    rid = f"audit-{uuid.uuid4()}"
    body = encrypt_body(plaintext, aad) | {"requestMetadata": meta("GenerateDataKey", rid)}
    sealed = client.post(f"keys/{xks_key}/encrypt", body)
    assert sealed.status == 200
    opened = client.post(f"keys/{xks_key}/decrypt", decrypt_body(sealed.body, aad))
    assert opened.status == 200
    forged = XksClient(client.base, client.uri_path, client.access_key_id, "wrong-secret")
    assert (
        forged.post("health", {"requestMetadata": meta("KmsHealthCheck", f"forged-{rid}", key_op=False)}).status == 401
    )

    line = _wait_for(lambda: next((r for r in _audit_lines(xks_gateway) if r["request_id"] == rid), None), "audit line")
    assert line["transport"] == "xks" and line["op"] == "xks_encrypt" and line["action"] == "kms:xks:encrypt"
    assert line["principal"] == client.access_key_id and line["project_id"] == xks_gateway.project
    assert line["key_id"] == key_id and line["result"] == "OK"
    refused = [
        r
        for r in _audit_lines(xks_gateway)
        if r["transport"] == "xks" and r["result"] == "AuthenticationFailedException"
    ]
    assert refused and all(r["principal"] == "" for r in refused)  # an unauthenticated body is never decoded
    verify = run_kmsgw(xks_gateway.data_dir, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    log = _wait_for(
        lambda: next((r for r in xks_gateway.srv.log_lines if r.get("kmsRequestId") == rid), None), "request log line"
    )
    assert log["msg"] == "xks request" and log["op"] == "xks_encrypt" and log["status"] == 200
    assert log["kmsOperation"] == "GenerateDataKey" and log["awsPrincipalArn"] == PRINCIPAL and log["kmsKeyArn"]
    assert any(
        r.get("msg") == "xks signature refused" and r.get("reason") == "signature mismatch"
        for r in xks_gateway.srv.log_lines
    )
    signature = client.signed_headers(client.url("health"), b"{}")["Authorization"].rsplit("Signature=", 1)[1]
    everything = json.dumps(xks_gateway.srv.log_lines) + (xks_gateway.data_dir / "audit.jsonl").read_text()
    for secret in (plaintext, aad):
        assert secret.decode() not in everything and b64(secret) not in everything
    assert client.secret not in everything and signature not in everything
    assert sealed.body["ciphertext"] not in everything


def test_metrics_count_the_xks_transport(xks_gateway):
    client = xks_gateway.client()
    client.post("health", {"requestMetadata": meta("KmsHealthCheck", key_op=False)})
    client.post("keys/no-such-key/metadata", {"requestMetadata": meta("DescribeKey")})
    text = httpx.get(f"{xks_gateway.base}/metrics", trust_env=False).text
    for op in ("xks_get_health_status", "xks_get_key_metadata", "xks_encrypt", "xks_decrypt"):
        assert f'op="{op}",transport="xks"' in text, op
    assert 'code="KeyNotFoundException"' in text
