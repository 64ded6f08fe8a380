"""Every XKS operation against a real `kmsgw serve --xks`, signed by botocore and by curl.

What AWS KMS relies on: compact one-line JSON, standard padded base64, a ciphertext as long as its
plaintext with a 12-byte IV and a 16-byte tag apart, metadata of at most 20 bytes, the CDIV of the
specification's Appendix C, and the specification's minimum sizes (4,300 bytes of plaintext, 8,192
of AAD) — here up to 64 KiB.
"""

from __future__ import annotations

import hashlib
import json
import os

from tests.xks.support import b64, decrypt_body, encrypt_body, meta, unb64


def _compact(text: str) -> None:
    assert "\n" not in text and ": " not in text and ", " not in text, text[:200]
    assert json.dumps(json.loads(text), separators=(",", ":")) == text


def test_health_with_botocore_and_curl(xks_gateway):
    client = xks_gateway.client()
    body = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}
    for reply in (client.post("health", body), client.curl("health", body)):
        assert reply.status == 200, reply.body
        assert reply.headers.get("content-type", "application/json").startswith("application/json")
        _compact(reply.text)
        health = reply.body
        assert set(health) == {"xksProxyFleetSize", "xksProxyVendor", "xksProxyModel", "ekmVendor", "ekmFleetDetails"}
        assert health["xksProxyFleetSize"] == 1 and health["xksProxyVendor"] == "kmsgw"
        assert health["ekmVendor"] == "SoftHSM project"  # the token's manufacturer
        [ekm] = health["ekmFleetDetails"]
        assert ekm["id"] and ekm["model"].startswith("SoftHSM")
        assert ekm["healthStatus"] in ("ACTIVE", "DEGRADED")  # DEGRADED: a round trip slower than 100 ms
    assert client.post("health", {}).error == "ValidationException"  # health included (the rule)
    assert client.post("health", {"requestMetadata": {}}).error == "ValidationException"
    assert client.post("health", {"requestMetadata": {"kmsRequestId": "r", "kmsOperation": 7}}).status == 400


def test_metadata_encrypt_decrypt_with_both_signers(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    described = client.curl(f"keys/{xks_key}/metadata", {"requestMetadata": meta("CreateKey")})
    assert described.status == 200
    assert described.body == {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"}
    _compact(described.text)
    aad = b"project=nile,department=marketing"
    for plaintext in (b"Hello World!", os.urandom(32), os.urandom(1)):
        sealed = client.post(f"keys/{xks_key}/encrypt", encrypt_body(plaintext, aad))  # botocore
        assert sealed.status == 200, sealed.body
        _compact(sealed.text)
        out = sealed.body
        assert set(out) == {"ciphertext", "ciphertextMetadata", "initializationVector", "authenticationTag"}
        assert len(unb64(out["ciphertext"])) == len(plaintext)
        assert len(unb64(out["initializationVector"])) == 12 and len(unb64(out["authenticationTag"])) == 16
        assert 0 < len(unb64(out["ciphertextMetadata"])) <= 20
        opened = client.curl(f"keys/{xks_key}/decrypt", decrypt_body(out, aad))  # curl
        assert opened.status == 200, opened.body
        assert unb64(opened.body["plaintext"]) == plaintext
        _compact(opened.text)
    # Without AAD, and the other way round (curl encrypts, botocore decrypts).
    sealed = client.curl(f"keys/{xks_key}/encrypt", encrypt_body(b"no aad"))
    assert unb64(client.post(f"keys/{xks_key}/decrypt", decrypt_body(sealed.body)).body["plaintext"]) == b"no aad"


def test_ivs_are_fresh(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    ivs = {client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"same")).body["initializationVector"] for _ in range(8)}
    assert len(ivs) == 8


def test_integrity_value_is_the_specifications(xks_gateway):
    """CDIV = SHA-256(AAD || metadata || IV || ciphertext || tag), and the result decrypts."""
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    for aad in (b"project=nile,department=marketing", None):
        reply = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"data key bytes", aad, cdiv=True))
        assert reply.status == 200, reply.body
        out = reply.body
        parts = [aad or b""] + [unb64(out[k]) for k in ("ciphertextMetadata", "initializationVector", "ciphertext")]
        expected = hashlib.sha256(b"".join(parts) + unb64(out["authenticationTag"])).digest()
        assert unb64(out["ciphertextDataIntegrityValue"]) == expected
        assert (
            unb64(client.curl(f"keys/{xks_key}/decrypt", decrypt_body(out, aad)).body["plaintext"]) == b"data key bytes"
        )


def test_sizes_the_specification_requires_and_this_gateway_allows(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    for size, aad_size in ((4300, 8192), (64 * 1024, 0xFFFF)):  # the minimums, then this gateway's maximums
        plaintext, aad = os.urandom(size), os.urandom(aad_size)
        sealed = client.post(f"keys/{xks_key}/encrypt", encrypt_body(plaintext, aad))
        assert sealed.status == 200, sealed.body
        assert len(unb64(sealed.body["ciphertext"])) == size
        assert (
            unb64(client.post(f"keys/{xks_key}/decrypt", decrypt_body(sealed.body, aad)).body["plaintext"]) == plaintext
        )
    over = client.post(f"keys/{xks_key}/encrypt", encrypt_body(os.urandom(64 * 1024 + 1)))
    assert (over.status, over.error) == (501, "UnsupportedOperationException")
    over_aad = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"x", os.urandom(0x10000)))
    assert (over_aad.status, over_aad.error) == (501, "UnsupportedOperationException")
    fake = {"ciphertext": b64(os.urandom(64 * 1024 + 1)), "initializationVector": b64(bytes(12))}
    too_long = client.post(f"keys/{xks_key}/decrypt", decrypt_body(fake | {"authenticationTag": b64(bytes(16))}))
    assert (too_long.status, too_long.error) == (501, "UnsupportedOperationException")


def test_a_body_over_one_mib_is_refused_before_anything_else(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    body = json.dumps(encrypt_body(b"x", padding="p" * (1 << 20))).encode()
    reply = client.post(f"keys/{xks_key}/encrypt", body)
    assert (reply.status, reply.error) == (400, "ValidationException")
    assert "exceeds" in reply.body["errorMessage"]


def test_bodies_are_validated_and_unknown_fields_ignored(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    path = f"keys/{xks_key}/encrypt"
    extra = encrypt_body(b"x", futureField={"a": 1}) | {"requestMetadata": meta() | {"kmsViaService": "ebs", "new": 1}}
    assert client.post(path, extra).status == 200
    assert client.post(f"keys/{xks_key}/metadata", {"requestMetadata": meta("DescribeKey") | {"x": [1]}}).status == 200
    bad = {
        "not json": b"{",
        "a list": b"[]",
        "no metadata": encrypt_body(b"x", requestMetadata=None),
        "no request id": encrypt_body(b"x", requestMetadata={"kmsOperation": "Encrypt", "awsPrincipalArn": "a"}),
        "no principal": encrypt_body(b"x", requestMetadata={"kmsRequestId": "r", "kmsOperation": "Encrypt"}),
        "wrong algorithm": encrypt_body(b"x", encryptionAlgorithm="AES_CBC"),
        "no algorithm": {k: v for k, v in encrypt_body(b"x").items() if k != "encryptionAlgorithm"},
        "wrong cdiv": encrypt_body(b"x", ciphertextDataIntegrityValueAlgorithm="SHA_512"),
        "not base64": encrypt_body(b"x") | {"plaintext": "***"},
        "unpadded": encrypt_body(b"x") | {"plaintext": "eA"},
        "empty": encrypt_body(b"x") | {"plaintext": ""},
        "number": encrypt_body(b"x") | {"plaintext": 12},
    }
    for why, body in bad.items():
        reply = client.post(path, body if isinstance(body, bytes) else json.dumps(body).encode())
        assert (reply.status, reply.error) == (400, "ValidationException"), why
        assert reply.body["errorMessage"].isascii() and len(reply.body["errorMessage"]) < 512
    # The request id is opaque: any string, never validated.
    odd = encrypt_body(b"x", requestMetadata=meta(request_id="not a uuid / ünïcode"))
    assert client.post(path, odd).status == 200
