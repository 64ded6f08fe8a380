"""Raw HTTP input handling of the REST shim: sizes, JSON, missing and mistyped fields, paths.

Every response goes through ``Rest``, which validates it against the committed OpenAPI document.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.core.dialects import SECONDARY
from gateway.rest.app import MAX_BODY_BYTES
from tests.support.gateway import new_project_id
from tests.support.rest import Rest, error_of

MISSING_KEY = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
SEQ = "919c82d4-8046-4722-9094-35c3c6524cff"


@pytest.fixture(scope="module")
def project(gateway) -> str:
    return new_project_id()


@pytest.fixture(scope="module")
def rest(gateway, project) -> Iterator[Rest]:
    client = Rest(gateway.rest_url, project, token=gateway.token(project))
    yield client
    client.close()


@pytest.fixture(scope="module")
def key_id(rest: Rest) -> str:
    return rest.create_key()


@pytest.fixture(scope="module")
def sealed(rest: Rest, key_id: str) -> dict[str, str]:
    """Ciphertexts of the module's key: a data key (hex) and some data (base64)."""
    dk = rest.ok("/create-datakey", {"key_id": key_id})
    data = rest.ok("/encrypt-data", {"key_id": key_id, "plain_text": "hello"})
    return {"dk": dk["cipher_text"], "data": data["cipher_text"]}


def _expect(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert error_of(resp) == (status, code), resp.text
    return resp.json()["error"]


# -- body size ----------------------------------------------------------------------------------
def _raw_exchange(gateway, project: str, token: str, head_extra: str, body_parts: list[bytes]) -> bytes:
    """Send a request by hand over a socket (never finishing the body) and return the raw response."""
    with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=15) as sock:
        head = (
            f"POST /v1.0/{project}/kms/create-key HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nX-Auth-Token: {token}\r\n{head_extra}\r\n"
        )
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _content_length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        # The server closes the connection: the unread rest of the body is never consumed. Closing
        # with unread bytes may make the kernel answer with a reset instead of a FIN: both mean closed.
        sock.settimeout(5)
        try:
            tail = sock.recv(65536)
        except ConnectionResetError:
            tail = b""
        assert tail == b"", "the connection stays open after a too-large body"
        return data


def _content_length(data: bytes) -> int:
    m = re.search(rb"(?im)^content-length:\s*(\d+)\r$", data.split(b"\r\n\r\n", 1)[0])
    return int(m.group(1)) if m else 0


def _status_and_code(raw: bytes) -> tuple[int, str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)["error"]["error_code"], head


def test_declared_length_over_limit_refused_before_reading(gateway, project) -> None:
    """Content-Length over 1 MiB: answered at once, although the body never arrives."""
    raw = _raw_exchange(gateway, project, gateway.token(project), f"Content-Length: {MAX_BODY_BYTES + 1}\r\n", [b"{"])
    status, code, head = _status_and_code(raw)
    assert (status, code) == (400, "KMS.0203")
    assert b"connection: close" in head.lower()
    assert b"x-request-id:" in head.lower()


def test_chunked_body_over_limit_stops_at_the_limit(gateway, project) -> None:
    """A chunked body is read up to the limit only, then refused (the final chunk is never sent)."""
    chunk = b" " * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    parts = [framed] * (MAX_BODY_BYTES // len(chunk) + 1)
    raw = _raw_exchange(gateway, project, gateway.token(project), "Transfer-Encoding: chunked\r\n", parts)
    assert _status_and_code(raw)[:2] == (400, "KMS.0203")


def test_body_of_exactly_the_limit_is_accepted(rest: Rest) -> None:
    body = json.dumps({"key_alias": f"k-{uuid.uuid4().hex[:12]}"}).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES
    resp = rest.call("/create-key", body)
    assert resp.status_code == 200, resp.text


# -- JSON ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b"{", b"{'key_alias': 'x'}", b'{"key_alias": "x",}', b"\xff\xfe", b'{"key_alias": "\\ud800"}', b"nope"],
    ids=["truncated", "single-quotes", "trailing-comma", "not-utf8", "lone-surrogate", "bare-word"],
)
def test_invalid_json(rest: Rest, body: bytes) -> None:
    _expect(rest.call("/create-key", body), 400, "KMS.0202")


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"1", b"null", b"true", b'[{"key_alias": "x"}]'])
def test_body_not_an_object(rest: Rest, body: bytes) -> None:
    _expect(rest.call("/create-key", body), 400, "KMS.0202")


def test_empty_body_is_an_empty_object(rest: Rest) -> None:
    assert rest.call("/list-keys", b"").status_code == 200
    _expect(rest.call("/create-key", b""), 400, "KMS.0204")


def test_unknown_fields_are_ignored(rest: Rest, key_id: str) -> None:
    """The SDK sends fields this gateway does not use (pin, keystore_id ...)."""
    out = rest.ok("/create-datakey", {"key_id": key_id, "pin": "x", "pin_type": "y", "keystore_id": "0"})
    assert out["key_id"] == key_id


# -- missing, malformed and mistyped fields -----------------------------------------------------
def _bodies(key_id: str, sealed: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A valid body for each operation that takes one."""
    dek = os.urandom(32)
    return {
        "/create-key": {"key_alias": f"k-{uuid.uuid4().hex[:12]}"},
        "/enable-key": {"key_id": key_id},
        "/disable-key": {"key_id": key_id},
        "/schedule-key-deletion": {"key_id": key_id, "pending_days": "7"},
        "/cancel-key-deletion": {"key_id": key_id},
        "/describe-key": {"key_id": key_id},
        "/update-key-alias": {"key_id": key_id, "key_alias": f"k-{uuid.uuid4().hex[:12]}"},
        "/update-key-description": {"key_id": key_id, "key_description": "d"},
        "/gen-random": {"random_data_length": "64"},
        "/create-datakey": {"key_id": key_id},
        "/create-datakey-without-plaintext": {"key_id": key_id},
        "/encrypt-datakey": {
            "key_id": key_id,
            "plain_text": (dek + hashlib.sha256(dek).digest()).hex(),
            "datakey_plain_length": "32",
        },
        "/decrypt-datakey": {"key_id": key_id, "cipher_text": sealed["dk"], "datakey_cipher_length": "32"},
        "/encrypt-data": {"key_id": key_id, "plain_text": "hello"},
        "/decrypt-data": {"cipher_text": sealed["data"]},
    }


REQUIRED = [
    ("/create-key", "key_alias"),
    ("/enable-key", "key_id"),
    ("/disable-key", "key_id"),
    ("/schedule-key-deletion", "key_id"),
    ("/schedule-key-deletion", "pending_days"),
    ("/cancel-key-deletion", "key_id"),
    ("/describe-key", "key_id"),
    ("/update-key-alias", "key_id"),
    ("/update-key-alias", "key_alias"),
    ("/update-key-description", "key_id"),
    ("/update-key-description", "key_description"),
    ("/gen-random", "random_data_length"),
    ("/create-datakey", "key_id"),
    ("/create-datakey-without-plaintext", "key_id"),
    ("/encrypt-datakey", "key_id"),
    ("/encrypt-datakey", "plain_text"),
    ("/encrypt-datakey", "datakey_plain_length"),
    ("/decrypt-datakey", "key_id"),
    ("/decrypt-datakey", "cipher_text"),
    ("/decrypt-datakey", "datakey_cipher_length"),
    ("/encrypt-data", "key_id"),
    ("/encrypt-data", "plain_text"),
    ("/decrypt-data", "cipher_text"),
]


@pytest.mark.parametrize(("path", "name"), REQUIRED, ids=[f"{p[1:]}-{n}" for p, n in REQUIRED])
def test_missing_required_field(rest: Rest, key_id: str, sealed: dict[str, str], path: str, name: str) -> None:
    body = _bodies(key_id, sealed)[path]
    del body[name]
    err = _expect(rest.call(path, body), 400, "KMS.0204")
    assert name in err["error_msg"]


KEY_ID_OPS = [path for path, body in _bodies(MISSING_KEY, {"dk": "", "data": ""}).items() if "key_id" in body]


@pytest.mark.parametrize("path", KEY_ID_OPS)
@pytest.mark.parametrize("bad", ["not-a-key", MISSING_KEY.upper(), MISSING_KEY + "0", "", 12, None, ["x"]], ids=repr)
def test_malformed_key_id(rest: Rest, key_id: str, sealed: dict[str, str], path: str, bad: Any) -> None:
    body = _bodies(key_id, sealed)[path]
    body["key_id"] = bad
    _expect(rest.call(path, body), 400, "KMS.0205")


@pytest.mark.parametrize("path", ["/create-key", "/describe-key", "/gen-random", "/create-datakey", "/decrypt-data"])
@pytest.mark.parametrize("bad", [SEQ[:-1], SEQ + "x", 919, {"a": "b"}], ids=repr)
def test_malformed_sequence(rest: Rest, key_id: str, sealed: dict[str, str], path: str, bad: Any) -> None:
    body = _bodies(key_id, sealed)[path]
    body["sequence"] = bad
    _expect(rest.call(path, body), 400, "KMS.0206")


def test_good_sequence(rest: Rest, key_id: str) -> None:
    assert rest.ok("/describe-key", {"key_id": key_id, "sequence": SEQ})["key_info"]["key_id"] == key_id


# (path, field, bad value, code): each operation answers its own code for each field.
WRONG = [
    ("/create-key", "key_alias", 5, "KMS.1101"),
    ("/create-key", "key_alias", "bad alias!", "KMS.1101"),
    ("/create-key", "key_alias", "svc/default", "KMS.1101"),
    ("/create-key", "key_description", 5, "KMS.1103"),
    ("/create-key", "key_description", "x" * 256, "KMS.1103"),
    ("/create-key", "realm", "bad realm!", "KMS.1102"),
    ("/create-key", "key_spec", "SM4", "KMS.0308"),
    ("/create-key", "key_spec", 1, "KMS.0308"),
    ("/create-key", "origin", "elsewhere", "KMS.0308"),
    ("/schedule-key-deletion", "pending_days", 7, "KMS.1401"),
    ("/schedule-key-deletion", "pending_days", "7.0", "KMS.1401"),
    ("/schedule-key-deletion", "pending_days", "6", "KMS.1401"),
    ("/schedule-key-deletion", "pending_days", "1097", "KMS.1401"),
    ("/schedule-key-deletion", "pending_days", "99999999999", "KMS.1401"),
    ("/schedule-key-deletion", "pending_days", "", "KMS.1401"),
    ("/schedule-key-deletion", "pending_days", True, "KMS.1401"),
    ("/update-key-alias", "key_alias", ["a"], "KMS.1101"),
    ("/update-key-description", "key_description", None, "KMS.1103"),
    ("/gen-random", "random_data_length", 512, "KMS.1801"),
    ("/gen-random", "random_data_length", "12", "KMS.1801"),
    ("/gen-random", "random_data_length", "8200", "KMS.1801"),
    ("/gen-random", "random_data_length", "-8", "KMS.1801"),
    ("/create-datakey", "datakey_length", 256, "KMS.1901"),
    ("/create-datakey", "datakey_length", "7", "KMS.1901"),
    ("/create-datakey", "datakey_length", "8200", "KMS.1901"),
    ("/create-datakey-without-plaintext", "datakey_length", "abc", "KMS.2001"),
    ("/create-datakey-without-plaintext", "datakey_length", "4", "KMS.2001"),
    ("/create-datakey", "key_spec", "SM4", "KMS.0308"),
    ("/create-datakey", "encryption_context", {"a": 1}, "KMS.0208"),
    ("/create-datakey", "encryption_context", "a=b", "KMS.0208"),
    ("/create-datakey", "encryption_context", {"k": "v" * 8200}, "KMS.0208"),
    ("/create-datakey", "additional_authenticated_data", 5, "KMS.0208"),
    ("/encrypt-datakey", "plain_text", "zz", "KMS.2101"),
    ("/encrypt-datakey", "plain_text", "abc", "KMS.2101"),
    ("/encrypt-datakey", "plain_text", 12, "KMS.2101"),
    ("/encrypt-datakey", "plain_text", "00" * 63, "KMS.2101"),
    ("/encrypt-datakey", "datakey_plain_length", 32, "KMS.2102"),
    ("/encrypt-datakey", "datakey_plain_length", "1025", "KMS.2102"),
    ("/encrypt-datakey", "datakey_plain_length", "31", "KMS.2101"),
    ("/decrypt-datakey", "cipher_text", "zz", "KMS.2201"),
    ("/decrypt-datakey", "cipher_text", "00" * 80, "KMS.2201"),
    ("/decrypt-datakey", "cipher_text", {"x": 1}, "KMS.2201"),
    ("/decrypt-datakey", "datakey_cipher_length", 32, "KMS.2202"),
    ("/decrypt-datakey", "datakey_cipher_length", "0", "KMS.2202"),
    ("/decrypt-datakey", "datakey_cipher_length", "16", "KMS.2202"),
    ("/decrypt-datakey", "encryption_context", {"k": "v"}, "KMS.2201"),
    ("/encrypt-data", "plain_text", 5, "KMS.0308"),
    ("/encrypt-data", "plain_text", "", "KMS.0308"),
    ("/encrypt-data", "plain_text", "x" * 4097, "KMS.0308"),
    ("/encrypt-data", "encryption_algorithm", "RSAES_OAEP_SHA_256", "KMS.0308"),
    ("/decrypt-data", "cipher_text", "not base64!", "KMS.0308"),
    ("/decrypt-data", "cipher_text", "AAAA", "KMS.0308"),
    ("/decrypt-data", "key_id", "nope", "KMS.0205"),
    ("/decrypt-data", "encryption_context", ["k"], "KMS.0208"),
]


@pytest.mark.parametrize(
    ("path", "name", "bad", "code"), WRONG, ids=[f"{p[1:]}-{n}-{str(b)[:12]}" for p, n, b, _ in WRONG]
)
def test_wrong_type_or_range(
    rest: Rest, key_id: str, sealed: dict[str, str], path: str, name: str, bad: Any, code: str
) -> None:
    body = _bodies(key_id, sealed)[path]
    body[name] = bad
    err = _expect(rest.call(path, body), 400, code)
    assert err["error_msg"]


@pytest.mark.parametrize(
    ("name", "bad", "code"),
    [
        ("limit", 2, "KMS.1601"),
        ("limit", "x", "KMS.1601"),
        ("limit", "100000", "KMS.1601"),
        ("marker", "-1", "KMS.1602"),
        ("marker", 3, "KMS.1602"),
        ("key_state", "9", "KMS.0308"),
        ("key_state", 2, "KMS.0308"),
    ],
)
def test_list_keys_fields(rest: Rest, name: str, bad: Any, code: str) -> None:
    _expect(rest.call("/list-keys", {name: bad}), 400, code)


def test_wrong_types_never_reach_the_core(gateway, rest: Rest, key_id: str, monkeypatch) -> None:
    calls: list[str] = []
    kms = gateway.rt.kms
    for name in (
        "create_key",
        "schedule_key_deletion",
        "generate_random",
        "create_data_key",
        "encrypt_data_key",
        "decrypt_data_key",
        "encrypt_data",
        "decrypt_data",
        "list_keys",
    ):
        original = getattr(kms, name)

        def spy(*a: Any, _name: str = name, _orig: Any = original, **kw: Any) -> Any:
            calls.append(_name)
            return _orig(*a, **kw)

        monkeypatch.setattr(kms, name, spy)
    cases = [
        ("/create-key", {"key_alias": 1}),
        ("/schedule-key-deletion", {"key_id": key_id, "pending_days": 7}),
        ("/gen-random", {"random_data_length": 64}),
        ("/create-datakey", {"key_id": key_id, "datakey_length": 256}),
        ("/create-datakey", {"key_id": key_id, "encryption_context": {"a": ["b"]}}),
        ("/encrypt-datakey", {"key_id": key_id, "plain_text": "zz", "datakey_plain_length": "1"}),
        ("/decrypt-datakey", {"key_id": key_id, "cipher_text": "00", "datakey_cipher_length": 1}),
        ("/encrypt-data", {"key_id": key_id, "plain_text": {"t": "x"}}),
        ("/decrypt-data", {"cipher_text": 1234}),
        ("/list-keys", {"limit": 1}),
    ]
    for path, body in cases:
        assert rest.call(path, body).status_code == 400
    assert calls == []
    assert rest.call("/gen-random", {"random_data_length": "64"}).status_code == 200
    assert calls == ["generate_random"]


# -- contexts -----------------------------------------------------------------------------------
def test_encryption_context_and_aad(rest: Rest, key_id: str) -> None:
    ctx = {"app": "orders", "tenant": "é"}
    dk = rest.ok("/create-datakey", {"key_id": key_id, "encryption_context": ctx})
    base = {"key_id": key_id, "cipher_text": dk["cipher_text"], "datakey_cipher_length": "32"}
    out = rest.ok("/decrypt-datakey", {**base, "encryption_context": dict(reversed(ctx.items()))})
    assert out["data_key"] == dk["plain_text"]
    assert (
        out["datakey_digest"]
        == out["datakey_dgst"]
        == hashlib.sha256(bytes.fromhex(dk["plain_text"])).hexdigest().upper()
    )
    _expect(rest.call("/decrypt-datakey", base), 400, "KMS.2201")
    _expect(rest.call("/decrypt-datakey", {**base, "encryption_context": {"app": "orders"}}), 400, "KMS.2201")
    _expect(rest.call("/decrypt-datakey", {**base, "additional_authenticated_data": json.dumps(ctx)}), 400, "KMS.2201")

    data = rest.ok("/encrypt-data", {"key_id": key_id, "plain_text": "x", "additional_authenticated_data": "a"})
    assert (
        rest.ok("/decrypt-data", {"cipher_text": data["cipher_text"], "additional_authenticated_data": "a"})[
            "plain_text"
        ]
        == "x"
    )
    _expect(rest.call("/decrypt-data", {"cipher_text": data["cipher_text"]}), 400, "KMS.0308")


def test_hex_is_accepted_in_either_case(rest: Rest, key_id: str) -> None:
    dk = rest.ok("/create-datakey", {"key_id": key_id})
    for text in (dk["cipher_text"].lower(), dk["cipher_text"].upper()):
        out = rest.ok("/decrypt-datakey", {"key_id": key_id, "cipher_text": text, "datakey_cipher_length": "32"})
        assert out["data_key"] == dk["plain_text"]


# -- batches (gateway extension) ----------------------------------------------------------------
def test_batches(rest: Rest, key_id: str) -> None:
    made = rest.ok("/batch-create-datakey", {"key_id": key_id, "count": "3", "encryption_context": {"a": "b"}})
    assert len(made["results"]) == 3
    items = [
        {
            "key_id": key_id,
            "cipher_text": r["cipher_text"],
            "datakey_cipher_length": "32",
            "encryption_context": {"a": "b"},
        }
        for r in made["results"]
    ]
    items.insert(1, {"key_id": key_id, "cipher_text": "zz", "datakey_cipher_length": "32"})
    items.append(
        {"key_id": MISSING_KEY, "cipher_text": made["results"][0]["cipher_text"], "datakey_cipher_length": "32"}
    )
    out = rest.ok("/batch-decrypt-datakey", {"items": items})["results"]
    assert [r.get("error", {}).get("error_code") for r in out] == [None, "KMS.2201", None, None, "KMS.0207"]
    assert [r.get("data_key") for r in out if "data_key" in r] == [r["plain_text"] for r in made["results"]]

    dek = os.urandom(16)
    enc = rest.ok(
        "/batch-encrypt-datakey",
        {
            "items": [
                {
                    "key_id": key_id,
                    "plain_text": (dek + hashlib.sha256(dek).digest()).hex(),
                    "datakey_plain_length": "16",
                },
                {"key_id": key_id, "plain_text": "q", "datakey_plain_length": "16"},
            ]
        },
    )["results"]
    assert enc[0]["datakey_length"] == "16" and enc[1]["error"]["error_code"] == "KMS.2101"
    blind = rest.ok("/batch-create-datakey", {"key_id": key_id, "count": "2", "with_plaintext": False})["results"]
    assert all("plain_text" not in r for r in blind)
    _expect(rest.call("/batch-create-datakey", {"key_id": key_id, "count": "1001"}), 400, "KMS.0308")
    _expect(rest.call("/batch-decrypt-datakey", {"items": [{"key_id": key_id}]}), 400, "KMS.0204")


# -- paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.0/{p}/kms/nope"),
        ("POST", "/v1.0/{p}/kms/create-key/"),
        ("POST", "/v1.0/{p}/kms/Create-Key"),
        ("GET", "/v1.0/{p}/kms/create-key"),
        ("POST", "/v1.0/{p}/kms/user-quotas"),
        ("DELETE", "/v1.0/{p}/kms/create-key"),
        ("POST", "/v2.0/{p}/kms/create-key"),
        ("POST", "/v1.0/{p}/create-key"),
        ("POST", "/v1.0/%7Bproject_id%7D/kms/create-key"),
        ("POST", "/v1.0//kms/create-key"),
        ("GET", "/"),
        ("POST", "/anything"),
    ],
)
def test_unknown_path(gateway, project, method: str, path: str) -> None:
    """400 KMS.0201 whether or not the request is authenticated."""
    url = path.replace("{p}", project)
    for rest in (Rest(gateway.rest_url, project, token=gateway.token(project)), Rest(gateway.rest_url, project)):
        _expect(rest.send(method, url, body=b"{}"), 400, "KMS.0201")
        rest.close()


def test_health_and_metrics_stay_plain(gateway) -> None:
    with httpx.Client(base_url=gateway.rest_url, trust_env=False) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert "kmsgw_request_seconds" in http.get("/metrics").text


# -- envelope, request id, metrics, dialect -----------------------------------------------------
def test_request_ids_are_unique(rest: Rest) -> None:
    ids = {rest.call("/list-keys", {}).headers["x-request-id"] for _ in range(5)}
    ids |= {rest.call("/nope", {}).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 10


def test_metrics_count_rest_requests_and_errors(gateway, rest: Rest) -> None:
    rest.ok("/gen-random", {"random_data_length": "8"})
    _expect(rest.call("/gen-random", {"random_data_length": "9"}), 400, "KMS.1801")
    with httpx.Client(base_url=gateway.rest_url, trust_env=False) as http:
        text = http.get("/metrics").text
    assert re.search(r'kmsgw_request_seconds_count\{op="gen_random",transport="rest"\} [1-9]', text)
    assert re.search(r'kmsgw_request_errors_total\{code="KMS.1801",op="gen_random",transport="rest"\} [1-9]', text)


def test_secondary_dialect(gateway, project, key_id: str, monkeypatch) -> None:
    """The configured dialect renders every error (here switched on the running services)."""
    monkeypatch.setattr(gateway.rt.services, "dialect", SECONDARY)
    anonymous = Rest(gateway.rest_url, project)
    _expect(anonymous.call("/describe-key", {"key_id": key_id}), 401, "KMS.0401")
    rest = Rest(gateway.rest_url, project, token=gateway.token(project))
    _expect(rest.call("/describe-key", {"key_id": MISSING_KEY}), 404, "KMS.0301")
    _expect(rest.call("/create-key", b"{"), 400, "KMS.0128")
    _expect(rest.call("/nope", {}), 400, "KMS.0101")
    anonymous.close()
    rest.close()


def test_internal_error_is_an_envelope_not_a_trace(gateway, rest: Rest, monkeypatch) -> None:
    def boom(*a: Any, **kw: Any) -> Any:
        raise RuntimeError("secret detail that must not leak")

    monkeypatch.setattr(gateway.rt.kms, "get_user_instances", boom)
    resp = rest.call("/user-instances", method="GET")
    _expect(resp, 500, "KMS.0101")
    assert "secret detail" not in resp.text and "Traceback" not in resp.text
