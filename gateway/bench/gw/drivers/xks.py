"""The XKS proxy API (AWS KMS External Key Store) of a gateway served with ``--xks``.

What AWS KMS sends: ``GenerateDataKey`` is an XKS Encrypt of 32 bytes KMS made, ``Decrypt`` an XKS
Decrypt, both SigV4-signed (``host;x-amz-date``, service ``kms-xks-proxy``) over keep-alive
HTTP/1.1. So ``create_datakey`` / ``decrypt_datakey`` are those two with 32 bytes, ``encrypt_data`` /
``decrypt_data`` the same with ``--payload`` bytes, ``datakey_pair`` one of each; the API has no
signing and no batches (those cells are skipped). The external key id is the fixture's key id: map
the key under its own id (``kmsgw xks key add --key-id K``, the default) and pass ``--key-id K``.
Requests are signed here with the gateway's own SigV4 code (a load generator must be cheap; the
tests sign with botocore and curl instead).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

from gateway.bench.gw.drivers.base import Call, CallError, Driver, WrongAnswer
from gateway.bench.gw.drivers.http import HttpPool
from gateway.bench.gw.ops import DATAKEY_BYTES, Endpoint, Fixture
from gateway.sigv4 import canonical as c

SERVICE = "kms-xks-proxy"
REGION = "us-east-1"  # what the scope names; a gateway without [xks] regions accepts any
OPERATIONS = frozenset({"create_datakey", "decrypt_datakey", "encrypt_data", "decrypt_data", "datakey_pair"})
_PRINCIPAL = "arn:aws:iam::111122223333:role/kmsgw-bench"


class XksDriver(Driver):
    name = "xks"

    @classmethod
    def unavailable(cls, endpoint: Endpoint) -> str | None:
        if not endpoint.xks_url or not endpoint.xks_credential:
            return (
                "no XKS endpoint: give --xks-config (the file `kmsgw xks keystore create` prints) of a gateway served"
                " with --xks, and --key-id of a key mapped there under its own id (--start sets none up)"
            )
        return None

    @classmethod
    def unsupported(cls, operation: str, batch: int) -> str | None:
        if batch:
            return "the XKS API has no batch operation"
        if operation not in OPERATIONS:
            return f"the XKS API has no {operation}"
        return None

    async def open(self) -> None:
        assert self.endpoint.xks_url
        url = urlsplit(self.endpoint.xks_url)
        self.pool = HttpPool(self.endpoint.xks_url, self.connections, self.timeout, self.endpoint.ca_file)
        self.host = f"{self.pool.host}:{self.pool.port}"
        self.base = url.path.rstrip("/")
        self.access_key_id, _, self.secret = self.endpoint.xks_credential.partition(":")
        self._keys: dict[str, bytes] = {}  # signing key by scope date

    async def close(self) -> None:
        await self.pool.close()

    def _headers(self, path: str, body: bytes) -> dict[str, str]:
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        date = amz_date[:8]
        key = self._keys.get(date) or self._keys.setdefault(date, c.signing_key(self.secret, date, REGION, SERVICE))
        signed = ("host", "x-amz-date")
        canonical = c.canonical_request(
            "POST", path.encode(), b"", signed, {"host": self.host, "x-amz-date": amz_date}, body
        )
        scope = f"{date}/{REGION}/{SERVICE}/{c.TERMINATOR}"
        signature = c.signature(key, c.string_to_sign(amz_date, scope, canonical))
        return {
            "X-Amz-Date": amz_date,
            "Authorization": f"{c.ALGORITHM} Credential={self.access_key_id}/{scope}, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}",
            "Content-Type": "application/json",
        }

    async def post(self, op: str, fx: Fixture, fields: dict[str, Any]) -> dict[str, Any]:
        path = f"/keys/{fx.key_id}/{op}"
        meta = {"kmsRequestId": os.urandom(16).hex(), "kmsOperation": "GenerateDataKey", "awsPrincipalArn": _PRINCIPAL}
        body = json.dumps({"requestMetadata": meta, **fields}).encode()
        status, payload = await self.pool.request("POST", path, body, self._headers(self.base + path, body))
        if status != 200:
            try:
                name = json.loads(payload).get("errorName", "")
            except (ValueError, AttributeError):
                name = ""
            raise CallError(f"http:{status}" + (f" {name}" if name else ""))
        answer = json.loads(payload)
        assert isinstance(answer, dict)
        return answer

    async def prepare(self, operation: str, fx: Fixture, payload: int, batch: int, verify: bool) -> Call:
        why = self.unsupported(operation, batch)
        if why:
            raise ValueError(why)
        size = DATAKEY_BYTES if operation in ("create_datakey", "decrypt_datakey", "datakey_pair") else payload
        plain = os.urandom(size)
        encrypt = {"plaintext": base64.b64encode(plain).decode(), "encryptionAlgorithm": "AES_GCM"}

        async def seal() -> dict[str, Any]:
            out = await self.post("encrypt", fx, encrypt)
            if verify and len(base64.b64decode(out["ciphertext"])) != size:
                raise WrongAnswer("xks encrypt: the ciphertext is not as long as the plaintext")
            return out

        async def open_(sealed: dict[str, Any]) -> None:
            fields = {
                k: sealed[k] for k in ("ciphertext", "ciphertextMetadata", "initializationVector", "authenticationTag")
            }
            out = await self.post("decrypt", fx, {**fields, "encryptionAlgorithm": "AES_GCM"})
            if verify and base64.b64decode(out["plaintext"]) != plain:
                raise WrongAnswer("xks decrypt: another plaintext came back")

        if operation in ("create_datakey", "encrypt_data"):

            async def encrypt_one() -> int:
                await seal()
                return 1

            return encrypt_one
        made = await seal()
        pair = operation == "datakey_pair"

        async def decrypt_one() -> int:
            await open_(await seal() if pair else made)
            return 1

        return decrypt_one
