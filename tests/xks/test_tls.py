"""XKS over HTTPS with a throwaway CA, and ``[xks] client_cert_cn`` (mTLS as the specification asks).

The listener asks for a client certificate (``[tls] client_auth = "optional"``) and verifies it
against the CA; the XKS endpoint then wants the CN AWS KMS presents in eu-west-1. A certificate
from another CA fails the handshake itself; one with another CN, or none, is 403
AccessDeniedException after it (Python's TLS stack cannot refuse a subject during the handshake).
The signature's region must be one of ``[xks] regions``.
"""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from tests.support.tls import CertificateAuthority
from tests.xks.conftest import start_xks, stop
from tests.xks.support import XksClient, decrypt_body, encrypt_body, meta, unb64

AWS_CN = "cks.kms.eu-west-1.amazonaws.com"
HEALTH = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}


def _context(ca: CertificateAuthority, client=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.path))
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    return ctx


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xks-tls")
    ca = CertificateAuthority(tmp / "pki")
    server = ca.issue("kmsgw server", server=True)
    config = "\n".join(
        [
            "[tls]",
            f'cert_file = "{server.cert}"',
            f'key_file = "{server.key}"',
            f'client_ca_file = "{ca.path}"',
            'client_auth = "optional"',
            "[xks]",
            f'client_cert_cn = "{AWS_CN}"',
            'regions = ["eu-west-1"]',
        ]
    )
    gw = start_xks(tmp, config_text=config + "\n", verify=_context(ca))
    yield gw, ca, tmp
    stop(gw)


def test_https_with_the_aws_client_certificate(tls_gateway):
    gw, ca, _ = tls_gateway
    aws = ca.issue(AWS_CN)
    client = gw.client(verify=_context(ca, aws), region="eu-west-1")
    assert client.base.startswith("https://")
    assert client.post("health", HEALTH).status == 200
    _, xks_key = gw.mapped_key()
    sealed = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"over tls", b"aad"))
    assert sealed.status == 200, sealed.body
    opened = client.curl(
        f"keys/{xks_key}/decrypt", decrypt_body(sealed.body, b"aad"), cacert=ca.path, cert=(aws.cert, aws.key)
    )
    assert opened.status == 200 and unb64(opened.body["plaintext"]) == b"over tls"
    # a region [xks] regions does not list: the signature is refused
    elsewhere = gw.client(verify=_context(ca, aws), region="us-east-1")
    reply = elsewhere.post("health", HEALTH)
    assert (reply.status, reply.error) == (401, "AuthenticationFailedException") and "region" in reply.body[
        "errorMessage"
    ]


def test_another_subject_or_no_certificate_is_access_denied(tls_gateway):
    gw, ca, _ = tls_gateway
    other = ca.issue("cks.kms.attacker.example.com")
    for ctx, curl_cert in ((_context(ca, other), (other.cert, other.key)), (_context(ca), None)):
        client = gw.client(verify=ctx, region="eu-west-1")
        reply = client.post("health", HEALTH)
        assert (reply.status, reply.error) == (403, "AccessDeniedException")
        assert client.curl("health", HEALTH, cacert=ca.path, cert=curl_cert).error == "AccessDeniedException"
        huge = json.dumps(HEALTH | {"pad": "p" * (1 << 20)}).encode()  # the certificate comes before the body
        assert client.post("health", huge).error == "AccessDeniedException"
    # the REST API on the same listener does not want that subject: a token is enough there
    assert gw.rest.ok("/list-keys", {})["keys"] is not None


def test_a_certificate_from_another_ca_fails_the_handshake(tls_gateway):
    gw, ca, tmp = tls_gateway
    rogue_ca = CertificateAuthority(tmp / "rogue", name="rogue CA")
    rogue = rogue_ca.issue(AWS_CN)  # the right subject, the wrong issuer
    client = XksClient.from_config(gw.base, gw.keystore, verify=_context(ca, rogue), region="eu-west-1")
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        client.post("health", HEALTH)
