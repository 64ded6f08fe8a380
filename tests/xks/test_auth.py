"""SigV4 at the XKS endpoint: what AWS KMS and curl sign passes; anything else is 401
AuthenticationFailedException. Credentials rotate without downtime: two at once, then the old one
deleted — refused within 5 s while the new one keeps working."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from tests.xks.support import XksClient, encrypt_body, meta

HEALTH = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}
NO_MATCH = "The request signature does not match."


def _refused(reply) -> str:
    assert (reply.status, reply.error) == (401, "AuthenticationFailedException"), reply.body
    return reply.body["errorMessage"]


def test_two_credentials_then_one_deleted(xks_gateway):
    old = xks_gateway.client()
    prefix = xks_gateway.keystore["XksProxyUriPath"].removesuffix("/kms/xks/v1")
    config = xks_gateway.cli("xks", "credentials", "create", "--uri-prefix", prefix)
    assert config["XksProxyUriPath"] == xks_gateway.keystore["XksProxyUriPath"]
    new = xks_gateway.client(config)
    assert new.access_key_id != old.access_key_id
    _, xks_key = xks_gateway.mapped_key()
    for client in (old, new):  # both at once, each with both signers
        assert client.post("health", HEALTH).status == 200
        assert client.curl(f"keys/{xks_key}/encrypt", encrypt_body(b"x")).status == 200
    xks_gateway.keystore = config  # later tests use the credential that stays
    out = xks_gateway.cli("xks", "credentials", "delete", "--access-key-id", old.access_key_id)
    assert out == {"access_key_id": old.access_key_id, "uri_prefix": prefix, "deleted": True}
    deadline = time.monotonic() + 5
    while old.post("health", HEALTH).status == 200:
        assert time.monotonic() < deadline, "a deleted credential was still accepted after 5 s"
        time.sleep(0.05)
    assert _refused(old.post(f"keys/{xks_key}/encrypt", encrypt_body(b"x"))) == NO_MATCH
    assert _refused(old.curl("health", HEALTH)) == NO_MATCH
    assert new.post(f"keys/{xks_key}/encrypt", encrypt_body(b"x")).status == 200


def test_a_credential_of_another_keystore_is_refused(xks_gateway):
    other = xks_gateway.cli("xks", "keystore", "create", "--uri-prefix", "other/store", "--project-id", "p-other")
    assert other["XksProxyUriPath"] == "/other/store/kms/xks/v1"
    mine = xks_gateway.client()
    theirs = xks_gateway.client(other)
    assert theirs.post("health", HEALTH).status == 200
    stranger = XksClient(mine.base, mine.uri_path, theirs.access_key_id, theirs.secret)  # right secret, wrong path
    assert _refused(stranger.post("health", HEALTH)) == NO_MATCH
    xks_gateway.cli("xks", "keystore", "delete", "--uri-prefix", "/other/store")


def test_wrong_secret_and_unknown_key_look_the_same(xks_gateway):
    good = xks_gateway.client()
    wrong_secret = XksClient(good.base, good.uri_path, good.access_key_id, good.secret[:-2] + "AA")
    unknown = XksClient(good.base, good.uri_path, "A" * 24, good.secret)
    assert _refused(wrong_secret.post("health", HEALTH)) == _refused(unknown.post("health", HEALTH)) == NO_MATCH
    assert _refused(wrong_secret.curl("health", HEALTH)) == NO_MATCH


def test_regions_clock_skew_and_the_scope(xks_gateway):
    good = xks_gateway.client()
    for region in ("eu-west-1", "ap-southeast-2"):  # no [xks] regions: any region
        assert (
            XksClient(good.base, good.uri_path, good.access_key_id, good.secret, region).post("health", HEALTH).status
            == 200
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    assert good.post("health", HEALTH, at=now - timedelta(seconds=60)).status == 200
    assert "X-Amz-Date" in _refused(good.post("health", HEALTH, at=now - timedelta(minutes=6)))
    assert "X-Amz-Date" in _refused(good.post("health", HEALTH, at=now + timedelta(minutes=6)))
    # curl signs with the X-Amz-Date it is given: an old one is refused the same way
    stale = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ")
    assert "X-Amz-Date" in _refused(good.curl("health", HEALTH, extra=("-H", f"X-Amz-Date: {stale}")))
    # another service's signature (botocore signing for "kms")
    url = good.url("health")
    body = json.dumps(HEALTH).encode()
    headers = good.signed_headers(url, body)
    headers["Authorization"] = headers["Authorization"].replace("/kms-xks-proxy/", "/kms/")
    assert "service" in _refused(good.post("health", body, raw_headers=headers))


def test_what_the_signature_covers(xks_gateway):
    good = xks_gateway.client()
    url = good.url("health")
    body = json.dumps(HEALTH).encode()
    signed = good.signed_headers(url, body, sign_content_type=True)
    assert "SignedHeaders=content-type;host;x-amz-date" in signed["Authorization"]
    assert good.post("health", body, raw_headers=signed).status == 200
    # the body as received: one byte more after signing
    assert _refused(good.post("health", body + b" ", raw_headers=signed)) == NO_MATCH
    # a signed header changed in transit
    assert _refused(good.post("health", body, raw_headers=signed | {"Content-Type": "text/plain"})) == NO_MATCH
    # SignedHeaders must name host and x-amz-date
    dropped = signed | {
        "Authorization": signed["Authorization"].replace("content-type;host;x-amz-date", "content-type;x-amz-date")
    }
    assert "host" in _refused(good.post("health", body, raw_headers=dropped))
    for broken in ("", "AWS4-HMAC-SHA1 Credential=x", "AWS4-HMAC-SHA256 Credential=A/B", "Basic abc"):
        _refused(good.post("health", body, raw_headers=signed | {"Authorization": broken}))
    no_date = {k: v for k, v in signed.items() if k != "X-Amz-Date"}
    assert "no Authorization" not in _refused(good.post("health", body, exact_headers=no_date))
    assert _refused(good.post("health", body, exact_headers={"Content-Type": "application/json"}))
    # an unsigned header may be anything (AWS KMS sends Content-Type unsigned)
    plain = good.signed_headers(url, body)
    assert "SignedHeaders=host;x-amz-date," in plain["Authorization"]
    assert good.post("health", body, raw_headers=plain | {"User-Agent": "anything", "X-Extra": "1"}).status == 200
