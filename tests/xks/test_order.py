"""The order of checks: for a request that breaks several rules, the first rule answers.

1 path -> 2 method -> 3 body size -> 4 signature -> (rate limit, test_faults.py) -> 5 body ->
6 key -> 7 usage -> 8 state -> 10 size (9, decryption, in test_ciphertexts.py). Also: any path
holding /kms/xks/v1 answers in the XKS dialect, never in the REST error envelope, and mapping
changes reach the running server.
"""

from __future__ import annotations

import json
import os
import time

import httpx

from tests.xks.support import XksClient, decrypt_body, encrypt_body, meta

HEALTH = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}


def _error(reply) -> tuple[int, str]:
    assert set(reply.body) == {"errorName", "errorMessage"}, reply.body
    return reply.status, reply.body["errorName"]


def _prefix(gw) -> str:
    return gw.keystore["XksProxyUriPath"].removesuffix("/kms/xks/v1")


def test_paths_then_methods(xks_gateway):
    base = xks_gateway.base
    path = xks_gateway.keystore["XksProxyUriPath"]
    with httpx.Client(base_url=base, trust_env=False) as http:
        for wrong in (
            "/unknown-prefix/kms/xks/v1/health",
            f"{path}/healthz",
            f"{path}/keys/k1/frobnicate",
            f"{path}/keys/bad$id/encrypt",
            f"{path}/keys//encrypt",
            f"{path}/keys/k1/encrypt/more",
            "/v1.0/project/kms/xks/v1/health",  # looks like a REST path: still the XKS endpoint answers
        ):
            for method in ("GET", "POST", "DELETE"):  # unknown path first (404), before the method (405)
                resp = http.request(method, wrong, content=b"{}")
                assert resp.status_code == 404, (method, wrong)
                assert resp.json() == {
                    "errorName": "InvalidUriPathException",
                    "errorMessage": resp.json()["errorMessage"],
                }
        for known in (
            f"{path}/health",
            f"{path}/keys/any-key/metadata",
            f"{path}/keys/k/encrypt",
            f"{path}/keys/k/decrypt",
        ):
            for method in ("GET", "PUT", "DELETE", "PATCH"):
                resp = http.request(method, known)
                assert resp.status_code == 405, (method, known)
                assert resp.headers["allow"] == "POST"
                assert set(resp.json()) == {"errorName", "errorMessage"}


def test_body_size_before_signature_before_body(xks_gateway):
    good = xks_gateway.client()
    forged = XksClient(good.base, good.uri_path, good.access_key_id, "not-the-secret")
    huge = json.dumps(HEALTH | {"pad": "p" * (1 << 20)}).encode()
    assert _error(forged.post("health", huge)) == (400, "ValidationException")  # 3 before 4
    assert _error(forged.post("health", b"{not json")) == (401, "AuthenticationFailedException")  # 4 before 5
    assert _error(good.post("health", b"{not json")) == (400, "ValidationException")


def test_body_then_key_then_usage_then_state_then_size(xks_gateway):
    client = xks_gateway.client()
    bad_body = encrypt_body(b"x", encryptionAlgorithm="RSA")
    assert _error(client.post("keys/never-mapped/encrypt", bad_body)) == (400, "ValidationException")  # 5 before 6
    for op in ("metadata", "encrypt", "decrypt"):
        body = {"metadata": {"requestMetadata": meta("DescribeKey")}, "encrypt": encrypt_body(b"x")}.get(op)
        body = body or decrypt_body(
            {"ciphertext": "AA==", "initializationVector": "A" * 16, "authenticationTag": "A" * 22 + "=="}
        )
        assert _error(client.post(f"keys/never-mapped/{op}", body)) == (404, "KeyNotFoundException")

    key_id, enc_only = xks_gateway.mapped_key("ENCRYPT")
    made = client.post(f"keys/{enc_only}/encrypt", encrypt_body(b"x")).body
    assert _error(client.post(f"keys/{enc_only}/decrypt", decrypt_body(made))) == (400, "InvalidKeyUsageException")
    cdiv = encrypt_body(b"x", cdiv=True)  # the integrity value needs a decrypt
    assert _error(client.post(f"keys/{enc_only}/encrypt", cdiv)) == (400, "InvalidKeyUsageException")
    _, dec_only = xks_gateway.mapped_key("DECRYPT")
    assert _error(client.post(f"keys/{dec_only}/encrypt", encrypt_body(b"x"))) == (400, "InvalidKeyUsageException")
    _, nothing = xks_gateway.mapped_key("NONE")
    assert client.post(f"keys/{nothing}/metadata", {"requestMetadata": meta("DescribeKey")}).body["keyUsage"] == []

    # state: disabled in the gateway (REST) -> InvalidStateException; metadata says DISABLED
    assert xks_gateway.rest.ok("/disable-key", {"key_id": key_id})["key_info"]["key_state"] == "3"
    assert _error(client.post(f"keys/{enc_only}/encrypt", encrypt_body(b"x"))) == (400, "InvalidStateException")
    assert _error(client.post(f"keys/{enc_only}/decrypt", decrypt_body(made))) == (
        400,
        "InvalidKeyUsageException",
    )  # 7 before 8
    big = encrypt_body(os.urandom(64 * 1024 + 1))
    assert _error(client.post(f"keys/{enc_only}/encrypt", big)) == (400, "InvalidStateException")  # 8 before 10
    described = client.post(f"keys/{enc_only}/metadata", {"requestMetadata": meta("DescribeKey")})
    assert described.body == {"keySpec": "AES_256", "keyUsage": ["ENCRYPT"], "keyStatus": "DISABLED"}
    xks_gateway.rest.ok("/enable-key", {"key_id": key_id})
    assert client.post(f"keys/{enc_only}/encrypt", encrypt_body(b"x")).status == 200

    # pending deletion is a state too
    key_id, doomed = xks_gateway.mapped_key()
    xks_gateway.rest.ok("/schedule-key-deletion", {"key_id": key_id, "pending_days": "7"})
    assert _error(client.post(f"keys/{doomed}/encrypt", encrypt_body(b"x"))) == (400, "InvalidStateException")
    assert (
        client.post(f"keys/{doomed}/metadata", {"requestMetadata": meta("DescribeKey")}).body["keyStatus"] == "DISABLED"
    )


def _until(check, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def test_mapping_changes_reach_the_running_server(xks_gateway):
    client = xks_gateway.client()
    prefix = _prefix(xks_gateway)
    first, xks_key = xks_gateway.mapped_key()
    out = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"with the first key")).body
    # the same external id, now mapped to another key: replaced (decrypt of the old ciphertext fails)
    second = xks_gateway.new_key()
    args = ("xks", "key", "add", "--uri-prefix", prefix, "--key-id", second, "--xks-key-id", xks_key)
    assert xks_gateway.cli(*args)["key_id"] == second
    _until(lambda: client.post(f"keys/{xks_key}/decrypt", decrypt_body(out)).status == 400, "the new mapping")
    assert client.post(f"keys/{xks_key}/decrypt", decrypt_body(out)).error == "InvalidCiphertextException"
    # removed: KeyNotFound
    removed = xks_gateway.cli("xks", "key", "remove", "--uri-prefix", prefix, "--xks-key-id", xks_key)
    assert removed == {"uri_prefix": prefix, "xks_key_id": xks_key, "removed": True}
    _until(lambda: client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"x")).status == 404, "the removal")
    # and back to the first key: the first ciphertext opens again
    xks_gateway.cli("xks", "key", "add", "--uri-prefix", prefix, "--key-id", first, "--xks-key-id", xks_key)
    _until(lambda: client.post(f"keys/{xks_key}/decrypt", decrypt_body(out)).status == 200, "the mapping back")
