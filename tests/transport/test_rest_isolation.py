"""Project isolation over REST: another project's key is indistinguishable from a missing one, and a
caller can never act in a project other than its own (the path's ``{project_id}``)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.rest.routing import discover
from tests.support.gateway import new_project_id
from tests.support.rest import Rest, error_of

NOT_FOUND = (404, "KMS.0207")


class Project:
    def __init__(self, gateway, how: str) -> None:
        self.id = new_project_id()
        if how == "token":
            self.rest = Rest(gateway.rest_url, self.id, token=gateway.token(self.id))
        else:
            self.rest = Rest(gateway.rest_url, self.id, creds=gateway.credentials(self.id))


@pytest.fixture(scope="module", params=["token", "aksk"])
def how(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def a(gateway, how) -> Iterator[Project]:
    p = Project(gateway, how)
    yield p
    p.rest.close()


@pytest.fixture(scope="module")
def b(gateway, how) -> Iterator[Project]:
    p = Project(gateway, how)
    yield p
    p.rest.close()


@pytest.fixture(scope="module")
def a_key(a: Project) -> dict[str, str]:
    key_id = a.rest.create_key()
    dk = a.rest.ok("/create-datakey", {"key_id": key_id})
    data = a.rest.ok("/encrypt-data", {"key_id": key_id, "plain_text": "A's secret"})
    return {"key_id": key_id, "dk": dk["cipher_text"], "data": data["cipher_text"]}


def _dek_plain() -> str:
    dek = os.urandom(32)
    return (dek + hashlib.sha256(dek).digest()).hex()


# Every operation that names a key, as project B would call it on A's key.
KEY_OPS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "/describe-key": lambda k: {"key_id": k["key_id"]},
    "/enable-key": lambda k: {"key_id": k["key_id"]},
    "/disable-key": lambda k: {"key_id": k["key_id"]},
    "/schedule-key-deletion": lambda k: {"key_id": k["key_id"], "pending_days": "7"},
    "/cancel-key-deletion": lambda k: {"key_id": k["key_id"]},
    "/update-key-alias": lambda k: {"key_id": k["key_id"], "key_alias": "stolen"},
    "/update-key-description": lambda k: {"key_id": k["key_id"], "key_description": "stolen"},
    "/create-datakey": lambda k: {"key_id": k["key_id"]},
    "/create-datakey-without-plaintext": lambda k: {"key_id": k["key_id"]},
    "/encrypt-datakey": lambda k: {"key_id": k["key_id"], "plain_text": _dek_plain(), "datakey_plain_length": "32"},
    "/decrypt-datakey": lambda k: {"key_id": k["key_id"], "cipher_text": k["dk"], "datakey_cipher_length": "32"},
    "/encrypt-data": lambda k: {"key_id": k["key_id"], "plain_text": "x"},
    "/decrypt-data": lambda k: {"cipher_text": k["data"]},
    "/batch-create-datakey": lambda k: {"key_id": k["key_id"], "count": "2"},
}


@pytest.mark.parametrize("path", sorted(KEY_OPS))
def test_other_projects_key_is_not_found(a: Project, b: Project, a_key: dict[str, str], path: str) -> None:
    """B on A's key answers exactly what B gets for a key that does not exist."""
    theirs = b.rest.call(path, KEY_OPS[path](a_key))
    assert error_of(theirs) == NOT_FOUND, theirs.text
    if path != "/decrypt-data":  # (a ciphertext names its own key: A's is the only one to try)
        missing = {**a_key, "key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}
        assert theirs.json() == b.rest.call(path, KEY_OPS[path](missing)).json()


def test_decrypt_data_with_key_id_of_other_project(b: Project, a_key: dict[str, str]) -> None:
    resp = b.rest.call("/decrypt-data", {"cipher_text": a_key["data"], "key_id": a_key["key_id"]})
    assert error_of(resp) == NOT_FOUND


def test_batches_answer_not_found_per_item(b: Project, a_key: dict[str, str]) -> None:
    out = b.rest.ok(
        "/batch-decrypt-datakey",
        {"items": [{"key_id": a_key["key_id"], "cipher_text": a_key["dk"], "datakey_cipher_length": "32"}]},
    )
    assert out["results"][0]["error"]["error_code"] == "KMS.0207"
    out = b.rest.ok(
        "/batch-encrypt-datakey",
        {"items": [{"key_id": a_key["key_id"], "plain_text": _dek_plain(), "datakey_plain_length": "32"}]},
    )
    assert out["results"][0]["error"]["error_code"] == "KMS.0207"


def test_lists_and_counts_are_per_project(a: Project, b: Project, a_key: dict[str, str]) -> None:
    assert a_key["key_id"] in a.rest.ok("/list-keys")["keys"]
    listing = b.rest.ok("/list-keys")
    assert a_key["key_id"] not in listing["keys"]
    assert listing["total"] == len(listing["keys"])
    assert b.rest.ok("/user-instances", method="GET")["instance_num"] == listing["total"]


def test_as_key_is_untouched(a: Project, b: Project, a_key: dict[str, str]) -> None:
    for path in sorted(KEY_OPS):
        b.rest.call(path, KEY_OPS[path](a_key))
    info = a.rest.ok("/describe-key", {"key_id": a_key["key_id"]})["key_info"]
    assert info["key_state"] == "2"
    assert info["key_alias"] != "stolen" and info["key_description"] != "stolen"
    out = a.rest.ok("/decrypt-data", {"cipher_text": a_key["data"]})
    assert out["plain_text"] == "A's secret"


def _every_route() -> list[tuple[str, str]]:
    routes = [(r.method, r.path) for g in discover() for r in g.routes]
    assert len(routes) >= 21
    return routes


@pytest.mark.parametrize(("method", "path"), _every_route(), ids=[f"{m} {p}" for m, p in _every_route()])
def test_own_credentials_on_another_projects_path(a: Project, b: Project, a_key, method: str, path: str) -> None:
    """A's credentials in B's path: 403 on every route, whatever the body."""
    filled = re.sub(r"\{key_id\}", a_key["key_id"], path)
    filled = re.sub(r"\{[a-z_]+(:path)?\}", "x", filled)
    resp = a.rest.send(method, a.rest.url(filled, project_id=b.id), body=b"" if method != "POST" else b"{}")
    assert error_of(resp) == (403, "KMS.0305")
