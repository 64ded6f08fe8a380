"""XKS clients for the tests: requests signed by AWS's own signer (botocore's SigV4Auth) or by
``curl --aws-sigv4`` — never by the gateway's verifier's own code — and the request bodies."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "kms-xks-proxy"
PRINCIPAL = "arn:aws:iam::123456789012:user/Alice"
KEY_ARN = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def meta(operation: str = "Encrypt", request_id: str | None = None, *, key_op: bool = True) -> dict[str, str]:
    out = {"kmsRequestId": request_id or str(uuid.uuid4()), "kmsOperation": operation}
    if key_op:
        out |= {"awsPrincipalArn": PRINCIPAL, "kmsKeyArn": KEY_ARN}
    return out


def encrypt_body(plaintext: bytes, aad: bytes | None = None, *, cdiv: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requestMetadata": meta("Encrypt"),
        "plaintext": b64(plaintext),
        "encryptionAlgorithm": "AES_GCM",
    }
    if aad is not None:
        body["additionalAuthenticatedData"] = b64(aad)
    if cdiv:
        body["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
    return body | extra


def decrypt_body(encrypted: dict[str, str], aad: bytes | None = None, **override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requestMetadata": meta("Decrypt"),
        "ciphertext": encrypted["ciphertext"],
        "initializationVector": encrypted["initializationVector"],
        "authenticationTag": encrypted["authenticationTag"],
        "encryptionAlgorithm": "AES_GCM",
    }
    if "ciphertextMetadata" in encrypted:
        body["ciphertextMetadata"] = encrypted["ciphertextMetadata"]
    if aad is not None:
        body["additionalAuthenticatedData"] = b64(aad)
    return body | override


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the body as sent

    @property
    def error(self) -> str | None:
        return self.body.get("errorName") if self.status != 200 else None


@dataclass
class XksClient:
    """One keystore credential at one gateway: ``base`` is ``http(s)://host:port``."""

    base: str
    uri_path: str  # the keystore's XksProxyUriPath ("/prefix/kms/xks/v1")
    access_key_id: str
    secret: str
    region: str = "us-east-1"
    verify: Any = True  # httpx's verify: an SSLContext for HTTPS (its CA, and a client certificate for mTLS)

    @classmethod
    def from_config(cls, base: str, config: dict[str, Any], **kw: Any) -> XksClient:
        """From the proxy configuration file `kmsgw xks keystore create` prints."""
        cred = config["XksProxyAuthenticationCredential"]
        return cls(base, config["XksProxyUriPath"], cred["AccessKeyId"], cred["RawSecretAccessKey"], **kw)

    def url(self, op: str) -> str:
        return f"{self.base}{self.uri_path}/{op}"

    # -- botocore ---------------------------------------------------------------------------
    def signed_headers(
        self, url: str, body: bytes, *, sign_content_type: bool = False, at: datetime | None = None
    ) -> dict[str, str]:
        """What botocore's SigV4Auth adds. AWS KMS signs ``host;x-amz-date``: the content type is then
        sent unsigned, unless ``sign_content_type``. ``at`` signs as of another time (clock skew)."""
        headers = {"Content-Type": "application/json"} if sign_content_type else {}
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        signer = SigV4Auth(Credentials(self.access_key_id, self.secret), SERVICE, self.region)
        if at is None:
            signer.add_auth(request)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=at):
                signer.add_auth(request)
        out = dict(request.headers.items())
        out.setdefault("Content-Type", "application/json")
        return out

    def post(
        self,
        op: str,
        body: dict[str, Any] | bytes,
        *,
        raw_headers: dict[str, str] | None = None,
        exact_headers: dict[str, str] | None = None,
        **sign: Any,
    ) -> Reply:
        """Sign with botocore and send; ``raw_headers`` are laid over the signed ones after signing,
        ``exact_headers`` are sent instead of signing at all."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = self.url(op)
        if exact_headers is not None:
            headers = exact_headers
        else:
            headers = self.signed_headers(url, data, **sign) | (raw_headers or {})
        with httpx.Client(verify=self.verify, timeout=30, trust_env=False) as http:
            resp = http.post(url, content=data, headers=headers)
        return _reply(resp)

    # -- curl ---------------------------------------------------------------------------------
    def curl(
        self,
        op: str,
        body: dict[str, Any] | bytes,
        *,
        cacert: Path | None = None,
        cert: tuple[Path, Path] | None = None,
        extra: tuple[str, ...] = (),
    ) -> Reply:
        """``curl --aws-sigv4`` as the specification's Appendix D runs it (the secret in a 0600 config
        file rather than on the command line; the body on stdin)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        argv = [
            "curl", "-sS", "--aws-sigv4", f"aws:amz:{self.region}:{SERVICE}",
            "-X", "POST", "-H", "Content-Type:application/json", "--data-binary", "@-",
            "-w", "\n%{http_code}", *extra,
        ]  # fmt: skip
        if cacert is not None:
            argv += ["--cacert", str(cacert)]
        if cert is not None:
            argv += ["--cert", str(cert[0]), "--key", str(cert[1])]
        fd, config = tempfile.mkstemp(prefix="kmsgw-xks-curl-")  # created 0600
        try:
            os.write(fd, f'user = "{self.access_key_id}:{self.secret}"\n'.encode())
            os.close(fd)
            out = subprocess.run([*argv, "-K", config, self.url(op)], input=data, capture_output=True, timeout=60)
        finally:
            os.unlink(config)
        assert out.returncode == 0, out.stderr
        text, _, status = out.stdout.decode().rpartition("\n")
        return Reply(int(status), json.loads(text) if text else {}, text=text)


def _reply(resp: httpx.Response) -> Reply:
    try:
        body = resp.json()
    except ValueError:
        body = {"raw": resp.text}
    return Reply(resp.status_code, body, dict(resp.headers), resp.text)
