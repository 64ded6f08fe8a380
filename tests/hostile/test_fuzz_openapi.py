"""Schemathesis against the OpenAPI document a real ``kmsgw serve`` serves: no 5xx, ever.

One test per operation of the served document (a failure names its operation), each running
three derandomized Hypothesis streams, so CI sends the same >= 10,000 requests every run:

* **positive** — bodies and path parameters valid for the schema (which checks JSON types and wire
  encodings, not business rules: most still end in a 4xx of the core);
* **negative** — bodies that violate the schema (wrong types, missing fields, not JSON);
* **real** — schema-valid bodies overlaid with live values (key ids of enabled, disabled,
  asymmetric and pending-import keys, real ciphertexts, signatures, grants, tags), so the fuzzer
  reaches the core and the token, not only validation.

Every response must: not be a 5xx; carry a status the document lists and its content type; match
the document's schema; and, when it is an error, be exactly the envelope
``{"error": {"error_code": "KMS.dddd", "error_msg": ...}}`` with an ``X-Request-Id``. Most
requests carry the project's token; a few carry none or a wrong one, and a few use the generated
``project_id``. The server's log must hold no unhandled error at the end.

``pytest -m fuzz tests/hostile/test_fuzz_openapi.py`` (``make fuzz``) runs the long form: 10 times the
examples, randomized (Hypothesis prints a seed / blob to replay a failure).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.rest.openapi import COMMITTED
from tests.support.kms import dek_plain
from tests.support.serve import ServeProcess, cli, start_serve

# Examples per operation and stream in CI: 43 operations x (positive + negative [+ real]) >= 10,000
# requests (test_request_budget checks the count): about 3 to 4 minutes on 2 shared cores.
CI_EXAMPLES = {"positive": 85, "negative": 85, "real": 100}
LONG_FACTOR = 10
KMS_CODE = re.compile(r"KMS\.[0-9]{4}")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

_DOC = json.loads(COMMITTED.read_text())
OPERATIONS = [(method.upper(), path) for path, item in _DOC["paths"].items() for method in item]
SENT: Counter[tuple[str, str]] = Counter()  # requests sent per (operation id, stream), for the budget check
STATUSES: Counter[tuple[str, str]] = Counter()  # (stream, status class) of the answers, reported at the end


def _op_id(op: tuple[str, str]) -> str:
    return f"{op[0]} {op[1].removeprefix('/v1.0/{project_id}/kms')}"


# -- the server, its schema and live values ----------------------------------------------------
@dataclass
class Target:
    srv: ServeProcess
    base_url: str
    project: str
    token: str
    schema: Any  # schemathesis OpenApiSchema loaded from GET /openapi.json
    session: requests.Session = field(default_factory=requests.Session)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("fuzz")
    config = root / "kmsgw.toml"
    config.write_text("[gateway]\ncmk_quota = 100000\n")  # the fuzzer and the live values create keys
    data_dir = root / "var"
    project = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project)["token"]
    srv = start_serve(data_dir, "--config", str(config), "--workers", "1")
    try:
        base_url = f"http://127.0.0.1:{srv.http_port}"
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        served = {(m.upper(), p) for p, item in schema.raw_schema["paths"].items() for m in item}
        assert served == set(OPERATIONS), "the served document is the committed one"
        yield Target(srv, base_url, project, token, schema)
    finally:
        code = srv.terminate()
        unhandled = [line for line in srv.log_lines if line.get("level") in ("ERROR", "CRITICAL")]
        assert not unhandled, unhandled[:5]
        assert code == 0


class Live:
    """Live values in the fuzzing project, made through the REST API; fresh per operation test."""

    def __init__(self, t: Target) -> None:
        self.http = httpx.Client(base_url=f"{t.base_url}/v1.0/{t.project}/kms", timeout=60, trust_env=False)
        self.http.headers["X-Auth-Token"] = t.token
        self.aes = self.key()
        self.disabled = self.key()
        self.ok("/disable-key", {"key_id": self.disabled})
        self.ec = self.key(key_spec="EC_P256", key_usage="SIGN_VERIFY")
        self.external = self.key(origin="external")
        self.unknown = str(uuid.uuid4())
        self.ctx = {"app": "fuzz"}
        dk = self.ok("/create-datakey", {"key_id": self.aes, "encryption_context": self.ctx})
        self.dek_hex, self.dek_ct = dk["plain_text"], dk["cipher_text"]
        self.dek_plain = dek_plain(bytes.fromhex(self.dek_hex)).hex()
        self.data_ct = self.ok("/encrypt-data", {"key_id": self.aes, "plain_text": "hello"})["cipher_text"]
        self.digest = base64.b64encode(hashlib.sha256(b"fuzz").digest()).decode()
        sign = {"key_id": self.ec, "message": self.digest, "signing_algorithm": "ECDSA_SHA_256"}
        self.signature = self.ok("/sign", sign)["signature"]
        params = {"key_id": self.external, "wrapping_algorithm": "RSAES_OAEP_SHA_1"}
        self.import_token = self.ok("/get-parameters-for-import", params)["import_token"]
        grant = {"key_id": self.aes, "grantee_principal": "fuzzgrantee", "operations": ["describe-key"]}
        self.grant_id = self.ok("/create-grant", grant)["grant_id"]
        self.ok(f"/{self.aes}/tags", {"tag": {"key": "team", "value": "fuzz"}}, status=204)

    def ok(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        resp = self.http.post(path, json=body)
        assert resp.status_code == status, resp.text
        return resp.json() if resp.content else {}

    def key(self, **kw: str) -> str:
        body = {"key_alias": f"fz-{uuid.uuid4().hex[:12]}", **kw}
        return str(self.ok("/create-key", body)["key_info"]["key_id"])

    def close(self) -> None:
        self.http.close()

    # What a caller who knows the API would send: each field a strategy over valid-ish values.
    def bodies(self, op: str) -> dict[str, st.SearchStrategy[Any]]:
        key = st.sampled_from([self.aes, self.aes, self.disabled, self.ec, self.external, self.unknown])
        ctx = st.sampled_from([self.ctx, {}, {"app": "other"}])
        bits = st.sampled_from(["256", "128", "512", "8", "8192", "0", "7", "8200"])
        length = st.sampled_from(["32", "16", "1", "1024", "0", "1025"])
        dek = {"encryption_context": ctx, "key_id": key}
        table: dict[str, dict[str, st.SearchStrategy[Any]]] = {
            "/sign": {"key_id": key, "message": st.just(self.digest), "signing_algorithm": _algs()},
            "/verify": {
                "key_id": key,
                "message": st.just(self.digest),
                "signing_algorithm": _algs(),
                "signature": st.sampled_from([self.signature, self.signature[:-4] + "AAAA", ""]),
            },
            "/get-parameters-for-import": {
                "key_id": key,
                "wrapping_algorithm": st.sampled_from(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]),
            },
            "/import-key-material": {
                "key_id": key,
                "import_token": st.just(self.import_token),
                "encrypted_key_material": st.binary(min_size=1, max_size=300).map(_b64),
            },
            "/encrypt-data": {"key_id": key, "plain_text": st.text(min_size=1, max_size=64), "encryption_context": ctx},
            "/decrypt-data": {"cipher_text": st.just(self.data_ct), "key_id": key, "encryption_context": ctx},
            "/create-datakey": {**dek, "datakey_length": bits},
            "/create-datakey-without-plaintext": {**dek, "datakey_length": bits},
            "/encrypt-datakey": {**dek, "plain_text": st.just(self.dek_plain), "datakey_plain_length": length},
            "/decrypt-datakey": {**dek, "cipher_text": st.just(self.dek_ct), "datakey_cipher_length": length},
            "/batch-create-datakey": {**dek, "count": st.sampled_from(["1", "3", "1000", "0", "1001"])},
            "/batch-encrypt-datakey": {
                "items": st.lists(
                    st.fixed_dictionaries(
                        {"key_id": key, "plain_text": st.just(self.dek_plain), "datakey_plain_length": length}
                    ),
                    max_size=4,
                )
            },
            "/batch-decrypt-datakey": {
                "items": st.lists(
                    st.fixed_dictionaries(
                        {**dek, "cipher_text": st.just(self.dek_ct), "datakey_cipher_length": length}
                    ),
                    max_size=4,
                )
            },
            "/create-grant": {
                "key_id": key,
                "grantee_principal": st.sampled_from(["fuzzgrantee", "a" * 64, "x y"]),
                "operations": st.lists(st.sampled_from(["describe-key", "create-datakey", "create-grant"]), max_size=3),
            },
            "/revoke-grant": {"key_id": key, "grant_id": st.sampled_from([self.grant_id, "0" * 64])},
            "/retire-grant": {"key_id": key, "grant_id": st.sampled_from([self.grant_id, "0" * 64])},
            "/create-key": {
                "key_alias": st.uuids().map(lambda u: f"fz-{u.hex[:16]}"),
                "key_spec": st.sampled_from(["AES_256", "EC_P256", "EC_P384", "SM4", "RSA_1024"]),
                "key_usage": st.sampled_from(["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
                "origin": st.sampled_from(["kms", "external"]),
            },
            "/update-key-alias": {"key_id": key, "key_alias": st.uuids().map(lambda u: f"fz-{u.hex[:16]}")},
            "/schedule-key-deletion": {"key_id": key, "pending_days": st.sampled_from(["7", "1096", "6", "1097"])},
            "/update-key-rotation-interval": {"key_id": key, "rotation_interval": st.sampled_from(["30", "365", "29"])},
            "/gen-random": {"random_data_length": bits},
            "/list-keys": {"limit": st.sampled_from(["1", "2", "1000"]), "key_state": st.sampled_from(["1", "2", "3"])},
        }
        return table.get(op, {"key_id": key})

    def path_key(self) -> st.SearchStrategy[str]:
        return st.sampled_from([self.aes, self.disabled, self.ec, self.unknown])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _algs() -> st.SearchStrategy[str]:
    return st.sampled_from(["ECDSA_SHA_256", "ECDSA_SHA_384", "RSASSA_PSS_SHA_256", "SM2DSA_SM3"])


# -- running one stream ------------------------------------------------------------------------
def _auth_headers(t: Target, n: int) -> dict[str, str]:
    """Mostly the project's token; every 25th request none, every 25th (offset) a wrong one."""
    if n % 25 == 7:
        return {}
    if n % 25 == 19:
        return {"X-Auth-Token": t.token[:-2] + "xx"}
    return {"X-Auth-Token": t.token}


def _check_envelope(resp: requests.Response) -> None:
    assert resp.headers.get("x-request-id"), "every response carries X-Request-Id"
    if resp.status_code < 400:
        return
    doc = resp.json()
    assert isinstance(doc, dict) and set(doc) == {"error"}, doc
    assert set(doc["error"]) == {"error_code", "error_msg"}, doc
    assert KMS_CODE.fullmatch(doc["error"]["error_code"]), doc
    assert isinstance(doc["error"]["error_msg"], str) and doc["error"]["error_msg"], doc


def _run(
    t: Target, op_id: str, stream: str, strategy: st.SearchStrategy[Any], examples: int, derandomize: bool
) -> None:
    @settings(
        max_examples=examples,
        derandomize=derandomize,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        n = sum(SENT.values())
        SENT[op_id, stream] += 1
        resp = case.call(base_url=t.base_url, session=t.session, headers=_auth_headers(t, n), timeout=60)
        STATUSES[stream, f"{resp.status_code // 100}xx"] += 1
        case.validate_response(resp, checks=CHECKS)
        _check_envelope(resp)

    try:
        fuzz()
    except Unsatisfiable:
        pass  # nothing in this stream can be generated (no body and only free-form path strings)


def _strategies(t: Target, op: tuple[str, str], live: Live) -> dict[str, st.SearchStrategy[Any]]:
    method, path = op
    operation = t.schema[path][method]
    fixed = {"project_id": t.project}

    def mostly_fixed(mode: GenerationMode) -> st.SearchStrategy[Any]:
        # One case in ten keeps the generated project_id: the router and the project check get fuzzed too.
        ours, free = operation.as_strategy(mode, path_parameters=fixed), operation.as_strategy(mode)
        return st.integers(0, 9).flatmap(lambda i: ours if i else free)

    out = {"positive": mostly_fixed(GenerationMode.POSITIVE), "negative": mostly_fixed(GenerationMode.NEGATIVE)}
    short = path.removeprefix("/v1.0/{project_id}/kms")
    has_key = "{key_id}" in path or "key_id" in json.dumps(_request_schema(op))
    if has_key or short in ("/create-key", "/gen-random", "/list-keys", "/decrypt-data"):
        out["real"] = _real_cases(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed), short, live)
    return out


def _request_schema(op: tuple[str, str]) -> dict[str, Any]:
    """The request body's schema, its $ref resolved one level (enough to see its properties)."""
    body = _DOC["paths"][op[1]][op[0].lower()].get("requestBody")
    if body is None:
        return {}
    schema = body["content"]["application/json"]["schema"]
    return _DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema


def _real_cases(positive: st.SearchStrategy[Any], short: str, live: Live) -> st.SearchStrategy[Any]:
    fields = live.bodies(short)

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
        case = draw(positive)
        if "key_id" in case.path_parameters:
            case.path_parameters["key_id"] = draw(live.path_key())
        if isinstance(case.body, dict):
            # Mostly every live field (a request the core accepts or refuses on its merits), else a subset.
            names = draw(st.one_of(st.just(sorted(fields)), st.sets(st.sampled_from(sorted(fields)))))
            case.body = {**case.body, **{name: draw(fields[name]) for name in names}}
        return case

    return build()


def _fuzz_operation(target: Target, op: tuple[str, str], factor: int, derandomize: bool) -> None:
    live = Live(target)
    try:
        for stream, strategy in _strategies(target, op, live).items():
            _run(target, _op_id(op), stream, strategy, CI_EXAMPLES[stream] * factor, derandomize)
    finally:
        live.close()


@pytest.mark.parametrize("op", OPERATIONS, ids=_op_id)
def test_fuzz_operation(target: Target, op: tuple[str, str]) -> None:
    _fuzz_operation(target, op, 1, derandomize=True)


def test_request_budget(target: Target) -> None:
    """The CI run sent at least 10,000 generated requests (only meaningful after the whole file)."""
    fuzzed = {op for op, _ in SENT}
    by_stream = Counter()
    for (_, stream), count in SENT.items():
        by_stream[stream] += count
    print(f"\nrequests sent: {sum(SENT.values())} {dict(by_stream)}; answers: {dict(sorted(STATUSES.items()))}")
    if len(fuzzed) < len(OPERATIONS):
        pytest.skip(f"only {len(fuzzed)} of {len(OPERATIONS)} operations fuzzed in this run")
    assert sum(SENT.values()) >= 10_000, dict(SENT)


@pytest.mark.fuzz
@pytest.mark.parametrize("op", OPERATIONS, ids=_op_id)
def test_fuzz_operation_long(target: Target, op: tuple[str, str]) -> None:
    _fuzz_operation(target, op, LONG_FACTOR, derandomize=False)
