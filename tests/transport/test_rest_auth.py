"""REST authentication: AK/SK signatures as the SDK makes them, and X-Auth-Token.

Signed requests are built with the SDK's own ``Signer`` (tests/support/rest.py) and sent with
httpx, so tampering happens after signing, exactly as an attacker on the wire would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.gateway import new_project_id
from tests.support.rest import Rest, check_against_openapi, error_of, sdk_sign

FORBIDDEN_SIGNATURE = (403, "KMS.0302")
STALE = (403, "KMS.0303")


@pytest.fixture(scope="module")
def creds(gateway) -> dict[str, str]:
    return gateway.credentials(new_project_id())


@pytest.fixture(scope="module")
def signed(gateway, creds) -> Iterator[Rest]:
    client = Rest(gateway.rest_url, creds["project_id"], creds=creds)
    yield client
    client.close()


@pytest.fixture(scope="module")
def key_id(signed: Rest) -> str:
    return signed.create_key()


@pytest.fixture
def http(gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.rest_url, trust_env=False, timeout=30) as client:
        yield client


def _send(http: httpx.Client, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    resp = http.request(method, path, content=body, headers=headers)
    check_against_openapi(resp)
    return resp


def _signed_request(gateway, creds, op: str, body: dict, **kw) -> tuple[str, bytes, dict[str, str]]:
    path = f"/v1.0/{creds['project_id']}/kms{op}"
    raw = json.dumps(body).encode()
    headers = sdk_sign("POST", gateway.rest_url + path, raw, creds["access_key"], creds["secret_key"], **kw)
    return path, raw, headers


# -- AK/SK --------------------------------------------------------------------------------------
def test_good_signature(gateway, creds, key_id, http) -> None:
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id})
    resp = _send(http, "POST", path, body, headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["key_info"]["key_id"] == key_id


def test_good_signature_on_get(gateway, creds, signed: Rest) -> None:
    assert signed.call("/user-instances", method="GET").status_code == 200


def test_wrong_secret(gateway, creds, key_id, http) -> None:
    wrong = dict(creds, secret_key=creds["secret_key"] + "x")
    path, body, headers = _signed_request(gateway, wrong, "/describe-key", {"key_id": key_id})
    resp = _send(http, "POST", path, body, headers)
    assert error_of(resp) == FORBIDDEN_SIGNATURE
    assert creds["secret_key"] not in resp.text


def test_unknown_access_key_looks_like_a_wrong_secret(gateway, creds, key_id, http) -> None:
    messages = []
    for access_key in ("NOSUCHACCESSKEY00000", creds["access_key"]):
        path, body, headers = _signed_request(
            gateway, dict(creds, access_key=access_key, secret_key="nope"), "/describe-key", {"key_id": key_id}
        )
        resp = _send(http, "POST", path, body, headers)
        assert error_of(resp) == FORBIDDEN_SIGNATURE
        messages.append(resp.json()["error"]["error_msg"])
    assert messages[0] == messages[1]


def test_altered_body(gateway, creds, key_id, http) -> None:
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id})
    tampered = body.replace(b"key_id", b"key_id", 1) + b" "
    assert error_of(_send(http, "POST", path, tampered, headers)) == FORBIDDEN_SIGNATURE
    other = json.dumps({"key_id": key_id, "sequence": "x" * 36}).encode()
    assert error_of(_send(http, "POST", path, other, headers)) == FORBIDDEN_SIGNATURE


def test_altered_path(gateway, creds, key_id, http) -> None:
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id})
    resp = _send(http, "POST", path.replace("describe-key", "disable-key"), body, headers)
    assert error_of(resp) == FORBIDDEN_SIGNATURE
    resp = _send(http, "POST", path + "?limit=1", body, headers)
    assert error_of(resp) == FORBIDDEN_SIGNATURE
    info = _send(http, "POST", *_signed_request(gateway, creds, "/describe-key", {"key_id": key_id})).json()
    assert info["key_info"]["key_state"] == "2", "the tampered disable-key did nothing"


def test_altered_signed_header(gateway, creds, key_id, http) -> None:
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id})
    headers["Content-Type"] = "application/json"
    assert error_of(_send(http, "POST", path, body, headers)) == FORBIDDEN_SIGNATURE


@pytest.mark.parametrize(
    "authorization",
    ["SDK-HMAC-SHA256", "SDK-HMAC-SM3 Access=A, SignedHeaders=host, Signature=00", "Basic Zm9vOmJhcg==", "junk"],
)
def test_malformed_authorization(gateway, creds, key_id, http, authorization: str) -> None:
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id})
    headers["Authorization"] = authorization
    assert error_of(_send(http, "POST", path, body, headers)) == FORBIDDEN_SIGNATURE


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24])
def test_stale_date(gateway, creds, key_id, http, minutes: int) -> None:
    when = datetime.now(UTC) - timedelta(minutes=minutes)
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id}, date=when)
    assert error_of(_send(http, "POST", path, body, headers)) == STALE


def test_date_within_window(gateway, creds, key_id, http) -> None:
    when = datetime.now(UTC) - timedelta(minutes=14)
    path, body, headers = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id}, date=when)
    assert _send(http, "POST", path, body, headers).status_code == 200


def test_replay_inside_the_window_then_beyond(gateway, creds, key_id, http, clock) -> None:
    """The same signed request replays while its date is within 15 minutes of the server clock only."""
    request = _signed_request(gateway, creds, "/describe-key", {"key_id": key_id})
    assert _send(http, "POST", *request).status_code == 200
    assert _send(http, "POST", *request).status_code == 200  # replay: allowed inside the window
    clock.advance(10 * 60)
    assert _send(http, "POST", *request).status_code == 200
    clock.advance(6 * 60)  # 16 minutes after signing
    assert error_of(_send(http, "POST", *request)) == STALE


def test_x_project_id_must_match_the_path(gateway, creds, key_id, http) -> None:
    path, body, headers = _signed_request(
        gateway, creds, "/describe-key", {"key_id": key_id}, headers={"X-Project-Id": new_project_id()}
    )
    assert error_of(_send(http, "POST", path, body, headers)) == (403, "KMS.0305")


# -- tokens -------------------------------------------------------------------------------------
def test_valid_token(gateway) -> None:
    project = new_project_id()
    rest = Rest(gateway.rest_url, project, token=gateway.token(project))
    key_id = rest.create_key()
    assert rest.ok("/describe-key", {"key_id": key_id})["key_info"]["key_id"] == key_id
    rest.close()


def test_expired_token(gateway, clock) -> None:
    project = new_project_id()
    rest = Rest(gateway.rest_url, project, token=gateway.token(project, ttl=60))
    assert rest.call("/list-keys").status_code == 200
    clock.advance(61)
    assert error_of(rest.call("/list-keys")) == (403, "KMS.0303")
    rest.close()


@pytest.mark.parametrize(
    "token",
    ["kmsgw1.forged-token-value-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "not-a-kmsgw-token", "kmsgw1." + "a" * 200],
)
def test_forged_token(gateway, token: str) -> None:
    rest = Rest(gateway.rest_url, new_project_id(), token=token)
    assert error_of(rest.call("/list-keys")) == (403, "KMS.0302")
    rest.close()


def test_tampered_real_token(gateway) -> None:
    project = new_project_id()
    real = gateway.token(project)
    rest = Rest(gateway.rest_url, project, token=real[:-2] + ("aa" if not real.endswith("aa") else "bb"))
    assert error_of(rest.call("/list-keys")) == (403, "KMS.0302")
    rest.close()


def test_no_credentials(gateway) -> None:
    rest = Rest(gateway.rest_url, new_project_id())
    for path, method in (("/list-keys", "POST"), ("/user-quotas", "GET"), ("/create-key", "POST")):
        resp = rest.call(path, {"key_alias": "x"} if method == "POST" else None, method=method)
        assert error_of(resp) == (403, "KMS.0301")
        assert resp.headers["content-type"].startswith("application/json")
    rest.close()


def test_empty_token(gateway) -> None:
    rest = Rest(gateway.rest_url, new_project_id(), token="")
    assert error_of(rest.call("/list-keys")) == (403, "KMS.0301")
    rest.close()


def test_token_of_another_project_in_path(gateway) -> None:
    rest = Rest(gateway.rest_url, new_project_id(), token=gateway.token(new_project_id()))
    assert error_of(rest.call("/list-keys")) == (403, "KMS.0305")
    rest.close()


def test_auth_is_checked_before_the_body(gateway) -> None:
    """An unauthenticated caller learns nothing about the body's validity."""
    rest = Rest(gateway.rest_url, new_project_id())
    assert error_of(rest.call("/create-key", b"{not json")) == (403, "KMS.0301")
    rest.close()
