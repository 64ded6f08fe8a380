"""`kmsgw xks`: one JSON object on one line and exit 0, or one line on stderr and exit 2."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid

from tests.xks.conftest import run_kmsgw
from tests.xks.support import meta

AK = re.compile(r"^[A-Z2-7]{20,30}$")
SK = re.compile(r"^[A-Za-z0-9+/=]{43,64}$")


def _refused(gw, *args: str) -> str:
    out = run_kmsgw(gw.data_dir, *args)
    assert out.returncode == 2, (args, out.stdout, out.stderr)
    assert out.stdout == "" and out.stderr.count("\n") == 1 and out.stderr.startswith("kmsgw"), out.stderr
    return out.stderr


def test_keystore_create_prints_the_console_configuration_file(xks_gateway):
    for given, path in (("cli-a", "/cli-a/kms/xks/v1"), ("/cli/b_c-d", "/cli/b_c-d/kms/xks/v1")):
        out = run_kmsgw(xks_gateway.data_dir, "xks", "keystore", "create", "--uri-prefix", given, "--project-id", "p1")
        assert out.returncode == 0 and out.stdout.count("\n") == 1, out.stderr
        config = json.loads(out.stdout)
        assert set(config) == {"XksProxyUriPath", "XksProxyAuthenticationCredential"}
        assert set(config["XksProxyAuthenticationCredential"]) == {"AccessKeyId", "RawSecretAccessKey"}
        assert config["XksProxyUriPath"] == path
        assert AK.match(config["XksProxyAuthenticationCredential"]["AccessKeyId"])
        assert SK.match(config["XksProxyAuthenticationCredential"]["RawSecretAccessKey"])
    listed = xks_gateway.cli("xks", "keystore", "list")["keystores"]
    mine = next(k for k in listed if k["uri_prefix"] == "/cli-a")
    assert (
        mine["XksProxyUriPath"] == "/cli-a/kms/xks/v1"
        and mine["project_id"] == "p1"
        and len(mine["access_key_ids"]) == 1
    )


def test_the_secret_is_stored_only_sealed(xks_gateway):
    config = xks_gateway.cli("xks", "keystore", "create", "--uri-prefix", "sealed", "--project-id", "p1")
    secret = config["XksProxyAuthenticationCredential"]["RawSecretAccessKey"]
    with sqlite3.connect(xks_gateway.data_dir / "kms.db") as db:
        dump = "\n".join(db.iterdump())
        blobs = [bytes(r[0]) for r in db.execute("SELECT sealed_secret FROM xks_credentials")]
    assert secret not in dump and all(secret.encode() not in blob for blob in blobs)


def test_usage_and_validation_problems_exit_2(xks_gateway):
    gw = xks_gateway
    assert "empty segment" in _refused(gw, "xks", "keystore", "create", "--uri-prefix", "a//b", "--project-id", "p")
    assert "A-Z" in _refused(gw, "xks", "keystore", "create", "--uri-prefix", "a.b", "--project-id", "p")
    assert "128" in _refused(gw, "xks", "keystore", "create", "--uri-prefix", "x" * 117, "--project-id", "p")
    gw.cli("xks", "keystore", "create", "--uri-prefix", "x" * 116, "--project-id", "p")  # exactly 128
    assert "already" in _refused(gw, "xks", "keystore", "create", "--uri-prefix", "/" + "x" * 116, "--project-id", "p")
    _refused(gw, "xks", "keystore", "create", "--project-id", "p")  # argparse: --uri-prefix missing
    _refused(gw, "xks", "keystore", "delete", "--uri-prefix", "no/such/store")
    _refused(gw, "xks", "credentials", "create", "--uri-prefix", "no/such/store")
    _refused(gw, "xks", "credentials", "delete", "--access-key-id", "AAAAAAAAAAAAAAAAAAAAAAAA")
    prefix = gw.keystore["XksProxyUriPath"].removesuffix("/kms/xks/v1")
    key_id = gw.new_key()
    add = ("xks", "key", "add", "--uri-prefix", prefix, "--key-id")
    assert "AES_256" in _refused(gw, *add, _asymmetric_key(gw))
    assert "project" in _refused(gw, *add, str(uuid.uuid4()))
    assert "UUID" in _refused(gw, *add, "not-a-key")
    assert "XKS key id" in _refused(gw, *add, key_id, "--xks-key-id", "bad id!")
    assert "--usage" in _refused(gw, *add, key_id, "--usage", "SIGN")
    _refused(gw, "xks", "key", "remove", "--uri-prefix", prefix, "--xks-key-id", "never-added")
    _refused(gw, "xks", "key", "list", "--uri-prefix", "no/such/store")


def _asymmetric_key(gw) -> str:
    body = {"key_alias": f"ec-{uuid.uuid4().hex[:8]}", "key_spec": "EC_P256", "key_usage": "SIGN_VERIFY"}
    return gw.rest.ok("/create-key", body)["key_info"]["key_id"]


def test_key_add_list_remove(xks_gateway):
    gw = xks_gateway
    prefix = gw.keystore["XksProxyUriPath"].removesuffix("/kms/xks/v1")
    key_id = gw.new_key()
    added = gw.cli("xks", "key", "add", "--uri-prefix", prefix.lstrip("/"), "--key-id", key_id)  # default id and usage
    assert added == {"uri_prefix": prefix, "xks_key_id": key_id, "key_id": key_id, "key_usage": ["ENCRYPT", "DECRYPT"]}
    again = gw.cli("xks", "key", "add", "--uri-prefix", prefix, "--key-id", key_id, "--usage", "decrypt")
    assert again["key_usage"] == ["DECRYPT"]  # adding again replaces the mapping
    listed = gw.cli("xks", "key", "list", "--uri-prefix", prefix)
    assert listed["uri_prefix"] == prefix and again in listed["keys"]
    assert gw.cli("xks", "key", "remove", "--uri-prefix", prefix, "--xks-key-id", key_id)["removed"] is True
    assert again not in gw.cli("xks", "key", "list", "--uri-prefix", prefix)["keys"]


def test_the_empty_prefix_and_keystore_deletion(xks_gateway):
    gw = xks_gateway
    config = gw.cli("xks", "keystore", "create", "--uri-prefix", "", "--project-id", gw.project)
    assert config["XksProxyUriPath"] == "/kms/xks/v1"
    client = gw.client(config)
    health = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}
    assert client.post("health", health).status == 200
    assert gw.cli("xks", "keystore", "delete", "--uri-prefix", "/") == {"uri_prefix": "", "deleted": True}
    deadline = time.monotonic() + 5
    while (reply := client.post("health", health)).status != 404:
        assert time.monotonic() < deadline, "a deleted keystore still answered after 5 s"
        time.sleep(0.05)
    assert reply.error == "InvalidUriPathException"
