"""The OpenAPI document: committed = generated = served, valid, and complete over the route table."""

from __future__ import annotations

import json
from typing import get_args

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from gateway.core.errors import Err
from gateway.rest.openapi import COMMITTED, render
from gateway.rest.routing import RouteTable, discover
from gateway.rest.schemas_common import ERROR_KEY, RequestModel

#: The operations of the provider's KMS API reference (docs/api.md): the SDK calls them by these paths.
REFERENCE_OPERATIONS = {
    ("post", "create-key"),
    ("post", "enable-key"),
    ("post", "disable-key"),
    ("post", "schedule-key-deletion"),
    ("post", "cancel-key-deletion"),
    ("post", "list-keys"),
    ("post", "describe-key"),
    ("post", "gen-random"),
    ("post", "create-datakey"),
    ("post", "create-datakey-without-plaintext"),
    ("post", "encrypt-datakey"),
    ("post", "decrypt-datakey"),
    ("get", "user-instances"),
    ("get", "user-quotas"),
    ("post", "update-key-alias"),
    ("post", "update-key-description"),
    ("post", "encrypt-data"),
    ("post", "decrypt-data"),
}


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(COMMITTED.read_text())


def test_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), "run: .venv/bin/python -m gateway.rest.openapi"


def test_served_document_is_the_committed_one(gateway) -> None:
    with httpx.Client(base_url=gateway.rest_url, trust_env=False) as http:
        resp = http.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.text == COMMITTED.read_text()


def test_document_is_valid_openapi(doc: dict) -> None:
    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_every_route_is_documented(doc: dict) -> None:
    table = RouteTable(discover())
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method.lower(), r.full_path) for r in table.routes}
    ops = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ops) == len(set(ops))


def test_reference_operations_are_served(doc: dict) -> None:
    served = {(m, p.removeprefix("/v1.0/{project_id}/kms/")) for p, ops in doc["paths"].items() for m in ops}
    assert served >= REFERENCE_OPERATIONS


def test_every_request_field_names_its_error() -> None:
    """The schema's error annotations are real meanings, on every field of every request model."""
    seen = 0
    for group in discover():
        for route in group.routes:
            assert route.request is None or issubclass(route.request, RequestModel), route.op
            models = [route.request] if route.request else []
            while models:
                model = models.pop()
                for name, info in model.model_fields.items():
                    extra = info.json_schema_extra
                    assert isinstance(extra, dict) and ERROR_KEY in extra, f"{model.__name__}.{name}"
                    assert extra[ERROR_KEY] in Err.__members__
                    seen += 1
                    for sub in _submodels(info.annotation):
                        models.append(sub)
    assert seen > 40


def _submodels(annotation) -> list:
    """Nested request objects (their fields name their errors too)."""
    out = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out.append(annotation)
    for arg in get_args(annotation):
        out += _submodels(arg)
    return out


def test_string_typed_numbers_are_strings(doc: dict) -> None:
    schemas = doc["components"]["schemas"]
    for model, name in [
        ("ScheduleKeyDeletionRequest", "pending_days"),
        ("GenRandomRequest", "random_data_length"),
        ("EncryptDataKeyRequest", "datakey_plain_length"),
        ("DecryptDataKeyRequest", "datakey_cipher_length"),
    ]:
        assert schemas[model]["properties"][name]["type"] == "string"
    assert schemas["ListKeysResponse"]["properties"]["truncated"]["type"] == "string"
    assert schemas["ListKeysResponse"]["properties"]["total"]["type"] == "integer"
    assert schemas["UserInstancesResponse"]["properties"]["instance_num"]["type"] == "integer"
    assert set(schemas["DecryptDataKeyResponse"]["required"]) >= {"datakey_digest", "datakey_dgst"}


def test_response_models_forbid_extra_fields(doc: dict) -> None:
    for name, schema in doc["components"]["schemas"].items():
        if name.endswith("Response") and "Request" not in name:
            assert schema.get("additionalProperties") is False, name
