"""Helpers of the REST tests: raw HTTP clients (token or AK/SK) and the official SDK client.

Every response a :class:`Rest` client receives is validated against the committed OpenAPI
document (``gateway/rest/openapi.json``): the success schema of the operation, or the error
envelope. AK/SK requests are signed by the SDK's own ``Signer``, not by the gateway's code.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema

from gateway.rest.openapi import COMMITTED

ERROR_KEYS = {"error"}


@functools.cache
def openapi() -> dict[str, Any]:
    return json.loads(COMMITTED.read_text())


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for path in openapi()["paths"]:
        regex = re.escape(path)
        regex = re.sub(r"\\\{key\\\}$", "(.+)", regex)  # a tag key may hold "/"
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", regex)
        out.append((re.compile(regex), path))
    return out


def response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The OpenAPI schema of a response, or None when the operation has no body for it."""
    doc = openapi()
    for regex, template in _templates():
        if regex.fullmatch(path) and method.lower() in doc["paths"][template]:
            responses = doc["paths"][template][method.lower()]["responses"]
            entry = responses.get(str(status))
            assert entry is not None, f"{method} {template}: status {status} is not documented"
            if "$ref" in entry:
                entry = doc["components"]["responses"][entry["$ref"].rsplit("/", 1)[1]]
            content = entry.get("content")
            return None if content is None else content["application/json"]["schema"]
    return None  # not an operation: only the error envelope applies


def check_against_openapi(resp: httpx.Response) -> None:
    """Validate one response against the document (success body, or the error envelope)."""
    path = resp.request.url.path
    assert resp.headers.get("x-request-id"), "every response carries X-Request-Id"
    if resp.status_code >= 400:
        schema: dict[str, Any] | None = {"$ref": "#/components/schemas/ErrorResponse"}
    else:
        schema = response_schema(resp.request.method, path, resp.status_code)
    if schema is None:
        assert resp.content == b"", f"{path}: a bodiless response has a body"
        return
    validator = jsonschema.Draft202012Validator({**schema, "components": openapi()["components"]})
    validator.validate(resp.json())


def sdk_sign(
    method: str,
    url: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    *,
    headers: dict[str, str] | None = None,
    date: datetime | None = None,
) -> dict[str, str]:
    """Headers the official SDK signer produces for this request (Host, X-Sdk-Date, Authorization)."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    parts = urlsplit(url)
    header_params = {"Content-Type": "application/json;charset=utf-8", **(headers or {})}
    if date is not None:
        header_params["X-Sdk-Date"] = date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    query = [tuple(kv.split("=", 1)) for kv in parts.query.split("&") if kv]
    req = SdkRequest(
        method=method,
        schema=parts.scheme,
        host=parts.netloc,
        resource_path=parts.path,
        query_params=query,
        header_params=header_params,
        body=body,
    )
    Signer(BasicCredentials(access_key, secret_key)).sign(req)
    return dict(req.header_params)


class Rest:
    """A raw HTTP client for one project, authenticated by token or AK/SK (or not at all)."""

    def __init__(
        self,
        base_url: str,
        project_id: str,
        *,
        token: str | None = None,
        creds: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.project_id = project_id
        self.token = token
        self.creds = creds
        self.http = httpx.Client(base_url=base_url, timeout=30, trust_env=False)

    def url(self, op_path: str, project_id: str | None = None) -> str:
        return f"/v1.0/{project_id or self.project_id}/kms{op_path}"

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        sign_date: datetime | None = None,
    ) -> httpx.Response:
        """Send ``body`` to a full path, signing or adding the token as configured; validated."""
        hdrs = {"Content-Type": "application/json;charset=utf-8", **(headers or {})}
        if self.token is not None:
            hdrs["X-Auth-Token"] = self.token
        elif self.creds is not None:
            hdrs = sdk_sign(
                method,
                self.base_url + path,
                body,
                self.creds["access_key"],
                self.creds["secret_key"],
                headers=hdrs,
                date=sign_date,
            )
        resp = self.http.request(method, path, content=body, headers=hdrs)
        check_against_openapi(resp)
        return resp

    def call(
        self, op_path: str, body: Any = None, *, method: str = "POST", project_id: str | None = None, **kw: Any
    ) -> httpx.Response:
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        return self.send(method, self.url(op_path, project_id), body=raw, **kw)

    def ok(self, op_path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        resp = self.call(op_path, body, **kw)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def create_key(self) -> str:
        return self.ok("/create-key", {"key_alias": f"k-{uuid.uuid4().hex[:12]}"})["key_info"]["key_id"]

    def close(self) -> None:
        self.http.close()


def error_of(resp: httpx.Response) -> tuple[int, str]:
    body = resp.json()
    assert set(body) == ERROR_KEYS, body
    return resp.status_code, body["error"]["error_code"]


@contextmanager
def sdk_home(tmp: str) -> Iterator[None]:
    """The SDK writes $HOME/.huaweicloud/application_id on first build: keep it out of the real home."""
    old = os.environ.get("HOME")
    os.environ["HOME"] = tmp
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old


def sdk_client(endpoint: str, creds: dict[str, str], home: str, project_id: str | None = None) -> Any:
    """The official KmsClient, built exactly as a user would, against the gateway."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkkms.v2 import KmsClient

    config = HttpConfig.get_default_config()
    config.timeout = (10, 60)
    with sdk_home(home):
        return (
            KmsClient.new_builder()
            .with_http_config(config)
            .with_credentials(
                BasicCredentials(creds["access_key"], creds["secret_key"], project_id or creds["project_id"])
            )
            .with_endpoint(endpoint)
            .build()
        )
