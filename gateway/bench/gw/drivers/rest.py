"""The KMS REST API (``/v1.0/{project_id}/kms/...``) with a bearer token, JSON in and out."""

from __future__ import annotations

import base64
import json
import os
import string
from typing import Any

from gateway.bench.gw.drivers.base import DIGEST, Call, CallError, Driver, WrongAnswer, check_signature
from gateway.bench.gw.drivers.http import HttpPool
from gateway.bench.gw.ops import DATAKEY_BYTES, SIGN_SPECS, Endpoint, Fixture

TEXT = (string.ascii_letters + string.digits).encode()


class RestDriver(Driver):
    name = "rest"

    @classmethod
    def unavailable(cls, endpoint: Endpoint) -> str | None:
        if not endpoint.rest_url:
            return "no REST URL (--rest-url)"
        if not endpoint.project_id:
            return "REST needs the token's project (--project-id)"
        return None

    async def open(self) -> None:
        assert self.endpoint.rest_url
        self.pool = HttpPool(self.endpoint.rest_url, self.connections, self.timeout, self.endpoint.ca_file)
        self.headers = {"X-Auth-Token": self.endpoint.token, "Content-Type": "application/json"}
        self.prefix = f"/v1.0/{self.endpoint.project_id}/kms"

    async def close(self) -> None:
        await self.pool.close()

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, payload = await self.pool.request("POST", self.prefix + path, json.dumps(body).encode(), self.headers)
        if status >= 300:
            try:
                code = json.loads(payload).get("error", {}).get("error_code", "")
            except (ValueError, AttributeError):
                code = ""
            raise CallError(f"http:{status}" + (f" {code}" if code else ""))
        answer = json.loads(payload)
        assert isinstance(answer, dict)
        return answer

    async def prepare(self, operation: str, fx: Fixture, payload: int, batch: int, verify: bool) -> Call:
        if batch:
            return await self._batch(operation, fx, batch, verify)
        create_body = {"key_id": fx.key_id, "datakey_length": "256"}
        if operation == "create_datakey":

            async def create_one() -> int:
                out = await self.post("/create-datakey", create_body)
                if verify and len(bytes.fromhex(out.get("plain_text", ""))) != DATAKEY_BYTES:
                    raise WrongAnswer("create-datakey: no 32-byte data key")
                return 1

            return create_one
        if operation in ("decrypt_datakey", "datakey_pair"):
            made = await self.post("/create-datakey", create_body)
            pair = operation == "datakey_pair"

            async def decrypt_one() -> int:
                source = await self.post("/create-datakey", create_body) if pair else made
                body = {"key_id": fx.key_id, "cipher_text": source["cipher_text"], "datakey_cipher_length": "32"}
                out = await self.post("/decrypt-datakey", body)
                if verify and out.get("data_key", "").lower() != source["plain_text"].lower():
                    raise WrongAnswer("decrypt-datakey: another data key came back")
                return 1

            return decrypt_one
        if operation in ("encrypt_data", "decrypt_data"):
            return await self._data(operation, fx, payload, verify)
        if operation == "sign":
            algorithm = SIGN_SPECS[fx.sign_spec][0]
            body = {"key_id": fx.sign_key_id, "message": base64.b64encode(DIGEST).decode(),
                    "signing_algorithm": algorithm, "message_type": "DIGEST"}  # fmt: skip

            async def sign_one() -> int:
                out = await self.post("/sign", body)
                if verify:
                    check_signature(fx.public_key_der, base64.b64decode(out["signature"]), DIGEST, algorithm)
                return 1

            return sign_one
        raise ValueError(f"unknown operation {operation}")

    async def _data(self, operation: str, fx: Fixture, payload: int, verify: bool) -> Call:
        # REST's plain_text is text: printable bytes of the requested size.
        plain = bytes(TEXT[b % len(TEXT)] for b in os.urandom(payload)).decode()
        sealed = (await self.post("/encrypt-data", {"key_id": fx.key_id, "plain_text": plain}))["cipher_text"]
        if operation == "encrypt_data":
            body = {"key_id": fx.key_id, "plain_text": plain}

            async def encrypt_one() -> int:
                out = await self.post("/encrypt-data", body)
                if verify and len(base64.b64decode(out["cipher_text"])) <= payload:
                    raise WrongAnswer("encrypt-data: the ciphertext cannot hold the payload")
                return 1

            return encrypt_one
        body = {"cipher_text": sealed}

        async def decrypt_one() -> int:
            out = await self.post("/decrypt-data", body)
            if verify and out.get("plain_text") != plain:
                raise WrongAnswer("decrypt-data: another plaintext came back")
            return 1

        return decrypt_one

    async def _batch(self, operation: str, fx: Fixture, batch: int, verify: bool) -> Call:
        create_body = {"key_id": fx.key_id, "count": str(batch), "datakey_length": "256"}

        async def made() -> list[dict[str, Any]]:
            results = (await self.post("/batch-create-datakey", create_body))["results"]
            if len(results) != batch:
                raise WrongAnswer(f"batch-create-datakey: asked {batch}, got {len(results)}")
            assert isinstance(results, list)
            return results

        if operation == "create_datakey":

            async def create_batch() -> int:
                results = await made()
                if verify and any(len(r.get("plain_text") or "") != 2 * DATAKEY_BYTES for r in results):
                    raise WrongAnswer("batch-create-datakey: items without a data key")
                return batch

            return create_batch
        fixed = await made()
        pair = operation == "datakey_pair"

        async def decrypt_batch() -> int:
            source = await made() if pair else fixed
            items = [
                {"key_id": fx.key_id, "cipher_text": r["cipher_text"], "datakey_cipher_length": "32"} for r in source
            ]
            out = (await self.post("/batch-decrypt-datakey", {"items": items}))["results"]
            if verify and any(
                (b.get("data_key") or "").lower() != a["plain_text"].lower() for a, b in zip(source, out, strict=True)
            ):
                raise WrongAnswer("batch-decrypt-datakey: wrong items")
            return batch

        return decrypt_batch
