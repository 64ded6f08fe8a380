"""The OpenAPI 3.1 document of the REST API, generated from the route groups and their models.

``python -m gateway.rest.openapi`` rewrites the committed ``gateway/rest/openapi.json``;
``--check`` exits 1 when it is out of date. The server answers the same document at
``GET /openapi.json``. Nothing here is written by hand per operation: paths come from the
route table, schemas from the pydantic models (each request field carries ``x-kmsgw-error``,
the error meaning a bad value of it raises; the codes of each meaning are in
``gateway/core/dialects.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.rest.routing import RestRoute, RouteGroup, discover
from gateway.rest.schemas_common import ErrorResponse

COMMITTED = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{model}"
VERSION = "0.1.0"

DESCRIPTION = """\
The KMS JSON API of kmsgw, served at `/v1.0/{project_id}/kms/...`. Field names, string-typed
numbers and status codes follow the KMS API reference; the official `huaweicloudsdkkms` Python SDK
works against it unmodified.

Authentication: either `X-Auth-Token` (from `kmsgw token create`) or an AK/SK signature
(`Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` with `X-Sdk-Date`
within 15 minutes of the server clock, as the SDK signs; credentials from `kmsgw credentials create`).
The `{project_id}` of the path must be the caller's project.

Errors: `{"error": {"error_code": "KMS.XXXX", "error_msg": "..."}}` with the HTTP status of the code in
the configured error dialect. A request field's `x-kmsgw-error` names the error a bad value of it
raises; a missing required field is KMS.0204, a body that is not a JSON object KMS.0202, a body over
1 MiB KMS.0203, an unknown path KMS.0201.
"""

ERROR_STATUSES = {
    "400": "Bad input or a key in the wrong state.",
    "401": "Not authenticated (secondary error dialect).",
    "403": "Not authenticated, or not allowed (primary error dialect).",
    "404": "The key does not exist in the caller's project.",
    "429": "Rate limited ([limits] of the configuration): retry after the `Retry-After` header's seconds.",
    "500": "Internal or HSM fault.",
}


def build(groups: list[RouteGroup] | None = None) -> dict[str, Any]:
    groups = discover() if groups is None else groups
    routes = [r for g in groups for r in g.routes]
    inputs = {r.request for r in routes if r.request is not None}
    outputs = {r.response for r in routes if r.response is not None} | {ErrorResponse}
    pairs: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in sorted(inputs, key=_name)]
    pairs += [(m, "serialization") for m in sorted(outputs, key=_name)]
    keys, top = models_json_schema(pairs, ref_template=REF)
    schemas = dict(sorted(top.get("$defs", {}).items()))

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        request_ref = keys[(route.request, "validation")]["$ref"] if route.request else None
        response_ref = keys[(route.response, "serialization")]["$ref"] if route.response else None
        paths.setdefault(route.full_path, {})[route.method.lower()] = _operation(route, request_ref, response_ref)

    return {
        "openapi": "3.1.0",
        "info": {"title": "kmsgw KMS REST API", "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "tags": [{"name": g.name, "description": g.description} for g in groups],
        "security": [{"XAuthToken": []}, {"AkSk": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "The error envelope.",
                    "content": {"application/json": {"schema": keys[(ErrorResponse, "serialization")]}},
                }
            },
            "securitySchemes": {
                "XAuthToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Auth-Token",
                    "description": "A token from `kmsgw token create`.",
                },
                "AkSk": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "SDK-HMAC-SHA256 request signature, as the huaweicloudsdkcore signer makes it.",
                },
            },
        },
    }


def _name(model: type[BaseModel]) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def _operation(route: RestRoute, request_ref: str | None, response_ref: str | None) -> dict[str, Any]:
    notes = []
    if route.sdk:
        notes.append(f"SDK method: `{route.sdk}`.")
    if route.action:
        notes.append(f"Permission action: `{route.action}`.")
    if route.extension:
        notes.append("Gateway extension (not in the KMS API reference).")
    description = " ".join(filter(None, [route.description, *notes]))
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The caller's project ID." if name == "project_id" else "",
        }
        for name in ["project_id", *route.path_params]
    ]
    op: dict[str, Any] = {
        "operationId": route.op,
        "summary": route.summary or route.op,
        "description": description,
        "tags": [route.group],
        "parameters": parameters,
    }
    if route.extension:
        op["x-kmsgw-extension"] = True
    if request_ref is not None and route.request is not None:
        required = any(f.is_required() for f in route.request.model_fields.values())
        op["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": {"$ref": request_ref}}},
        }
    if response_ref is not None:
        success: dict[str, Any] = {
            "description": "Success.",
            "content": {"application/json": {"schema": {"$ref": response_ref}}},
        }
    else:
        success = {"description": "Success, no content."}
    op["responses"] = {str(route.status): success} | {
        status: {"$ref": "#/components/responses/Error", "description": text} for status, text in ERROR_STATUSES.items()
    }
    return op


def render(groups: list[RouteGroup] | None = None) -> str:
    return json.dumps(build(groups), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.rest.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is out of date")
    parser.add_argument("--output", type=Path, default=COMMITTED)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m gateway.rest.openapi", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
