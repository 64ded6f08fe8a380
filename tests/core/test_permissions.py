"""Per-credential policies: the action table, enforcement over REST (raw and SDK) and gRPC, and the CLI.

A limited credential or token gets 403 KMS.0307 (REST) / PERMISSION_DENIED (gRPC) on any action
outside its policy and succeeds on the ones inside; `kmsgw credentials allow` changes a policy on a
running `kmsgw serve` within the documented bound (POLICY_RECHECK_SECONDS).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkkms.v2 import model as m

from gateway.core import operations, permissions
from gateway.core.auth import POLICY_RECHECK_SECONDS
from gateway.core.errors import Err, KmsError
from gateway.core.gate import RequestGate
from gateway.core.model import Caller
from gateway.core.ratelimit import RateLimiter
from gateway.grpc_api import rpc
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.server import SERVICE
from gateway.rest.routing import BASE, RouteTable, discover
from tests.support.gateway import kms_code, new_project_id
from tests.support.rest import Rest, error_of, sdk_client
from tests.support.serve import cli, start_serve

ROOT = Path(__file__).resolve().parents[2]
DEK = frozenset({"kms:dek:create", "kms:dek:crypto"})


# -- the table ----------------------------------------------------------------------------
DOC = ROOT / "docs" / "permissions-and-limits.md"
ROW = re.compile(
    r"^\| `(?P<op>[a-z_]+)` \| `(?P<action>kms:[A-Za-z]+:[A-Za-z]+)` \| (?P<method>GET|POST|DELETE) `(?P<path>[^`]+)` "
    r"\| (?P<rpc>[A-Za-z]+) \| ?(?P<grant>[a-z-]*) \| ?(?:`(?P<former>[a-z_]+)`)? \|$",
    re.M,
)


def _documented() -> dict[str, re.Match[str]]:
    """The rows of the operation table in docs/permissions-and-limits.md, by operation name."""
    assert DOC.exists(), f"{DOC} is missing"
    rows: dict[str, re.Match[str]] = {}
    for row in ROW.finditer(DOC.read_text()):
        assert row["op"] not in rows, f"{row['op']} has two rows"
        rows[row["op"]] = row
    return rows


def test_the_documented_table_is_the_catalog_row_by_row() -> None:
    """Every KMS API operation of the catalog has its row (name, action, grant, former name), and no other
    (the XKS transport's own operations have their table in docs/xks.md, checked by tests/xks)."""
    rows = _documented()
    assert sorted(rows) == sorted(op.name for op in operations.KMS_API), "the table and the catalog differ"
    for op in operations.KMS_API:
        row = rows[op.name]
        assert row["action"] == op.action, op.name
        assert row["grant"] == op.grant_name, op.name
        assert (row["former"],) == (op.former_names or (None,)), op.name
        assert permissions.action_for(op.name) == op.action


def test_every_rest_route_is_a_catalog_operation_as_documented() -> None:
    rows = _documented()
    table = RouteTable(discover())
    assert sorted(r.op for r in table.routes) == sorted(op.name for op in operations.KMS_API)
    for route in table.routes:
        assert route.operation is operations.get(route.op), route.op
        row = rows[route.op]
        assert (row["method"], row["path"]) == (route.method, route.full_path.removeprefix(BASE)), route.op


def test_every_grpc_method_is_a_catalog_operation_as_documented() -> None:
    rows = _documented()
    methods = {m.name: m for group in rpc.discover() for m in group.methods}
    served = {m.name for m in SERVICE.methods}
    assert sorted(methods) == sorted(served), "every method of the service has one handler"
    assert sorted(m.operation.name for m in methods.values()) == sorted(op.name for op in operations.KMS_API)
    for name, method in methods.items():
        assert method.operation is operations.get(method.operation.name), name
        assert rows[method.operation.name]["rpc"] == name


def test_grants_and_batches_follow_their_single_operation() -> None:
    assert operations.GRANTABLE_OPERATIONS == {
        "create-datakey",
        "create-datakey-without-plaintext",
        "encrypt-datakey",
        "decrypt-datakey",
        "describe-key",
        "create-grant",
        "retire-grant",
        "encrypt-data",
        "decrypt-data",
    }
    for op in operations.CATALOG:
        if op.name.startswith("batch_") and op.name.endswith("_datakey"):
            single = operations.get(op.name.removeprefix("batch_"))
            assert (op.action, op.grant_name) == (single.action, single.grant_name), op.name
            assert op.grantable


def test_former_names_resolve_but_are_not_operations() -> None:
    for former, current in [("create_key_tag", "create_kms_tag"), ("list_resource_instances", "list_kms_by_tags")]:
        assert operations.resolve(former) is operations.get(current)
        assert former not in permissions.OP_ACTIONS
        with pytest.raises(KeyError):
            operations.get(former)
    assert operations.resolve("no_such_op") is None


def test_limits_accept_former_operation_names() -> None:
    def cfg(**operations_: object) -> SimpleNamespace:
        return SimpleNamespace(rate=0.0, burst=0.0, operations=operations_, principals={}, max_buckets=10)

    limiter = RateLimiter.from_config(cfg(list_key_tags={"rate": 3}, create_kms_tag={"rate": 4}))
    assert limiter.limit_for("ak", "show_kms_tags").rate == 3  # the former gRPC name of show_kms_tags
    assert limiter.limit_for("ak", "create_kms_tag").rate == 4
    with pytest.raises(ValueError, match="already given"):
        RateLimiter.from_config(cfg(list_key_tags={"rate": 3}, show_kms_tags={"rate": 4}))
    with pytest.raises(ValueError, match="unknown operation"):
        RateLimiter.from_config(cfg(list_kms_tag={"rate": 1}))


#: The permission actions the provider's KMS API reference names for its operations (docs/api.md).
REFERENCE_ACTIONS = frozenset(
    {
        "kms:cmk:create",
        "kms:cmk:enable",
        "kms:cmk:disable",
        "kms:cmk:update",
        "kms:cmk:list",
        "kms:cmk:get",
        "kms:cmk:generate",
        "kms:cmk:getInstance",
        "kms:cmk:getQuota",
        "kms:cmk:crypto",
        "kms:cmk:getMaterial",
        "kms:cmk:importMaterial",
        "kms:cmk:deleteMaterial",
        "kms:dek:create",
        "kms:dek:crypto",
        "kms:cmkTag:listInstance",
        "kms:cmkTag:list",
        "kms:cmkTag:batch",
        "kms:cmkTag:create",
        "kms:cmkTag:delete",
    }
)


def test_reference_actions_are_known() -> None:
    """Every action of the API reference's operations is one the gateway enforces."""
    assert REFERENCE_ACTIONS <= permissions.KNOWN_ACTIONS


def test_batch_ops_take_their_single_counterparts_action() -> None:
    assert permissions.action_for("batch_create_datakey") == permissions.action_for("create_datakey")
    assert permissions.action_for("batch_encrypt_datakey") == permissions.action_for("encrypt_datakey")
    assert permissions.action_for("batch_decrypt_datakey") == permissions.action_for("decrypt_datakey")


def test_parse_actions_refuses_unknown_and_empty() -> None:
    assert permissions.parse_actions(["kms:dek:create,kms:dek:crypto"]) == DEK
    with pytest.raises(ValueError, match="kms:dek:nope"):
        permissions.parse_actions(["kms:dek:create", "kms:dek:nope"])
    with pytest.raises(ValueError):
        permissions.parse_actions([])


def test_gate_denies_unlisted_and_unknown_ops() -> None:
    gate = RequestGate()
    limited = Caller("p", "d", "u", "AK", DEK)
    gate.admit(limited, "create_datakey")
    gate.admit(limited, "batch_decrypt_datakey")
    for op in ("create_key", "no_such_op"):
        with pytest.raises(KmsError) as info:
            gate.admit(limited, op)
        assert info.value.err is Err.OPERATION_DENIED
    gate.admit(Caller("p", "d", "u"), "no_such_op")  # no policy: the gate lets every op through


# -- REST and gRPC against the in-process gateway ------------------------------------------
def test_rest_token_policy(gateway) -> None:
    project_id = new_project_id()
    admin = Rest(gateway.rest_url, project_id, token=gateway.token(project_id))
    key_id = admin.create_key()
    limited = Rest(gateway.rest_url, project_id, token=gateway.token(project_id, actions=DEK))
    try:
        blob = limited.ok("/create-datakey", {"key_id": key_id})
        body = {"key_id": key_id, "cipher_text": blob["cipher_text"], "datakey_cipher_length": "32"}
        limited.ok("/decrypt-datakey", body)
        for path, body in [
            ("/create-key", {"key_alias": f"k-{uuid.uuid4().hex[:8]}"}),
            ("/describe-key", {"key_id": key_id}),
            ("/disable-key", {"key_id": key_id}),
            ("/encrypt-data", {"key_id": key_id, "plain_text": "aGk="}),
        ]:
            assert error_of(limited.call(path, body)) == (403, "KMS.0307"), path
        assert error_of(limited.call("/user-quotas", method="GET")) == (403, "KMS.0307")
        assert error_of(limited.call(f"/{key_id}/tags", method="GET")) == (403, "KMS.0307")
        # The refusal happens before the body is read for meaning: a bad body is still 403.
        assert error_of(limited.call("/create-key", b"{not json")) == (403, "KMS.0307")
        admin.ok("/describe-key", {"key_id": key_id})  # the project's unrestricted token is unaffected
    finally:
        admin.close()
        limited.close()


def test_rest_sdk_credential_policy(gateway, tmp_path) -> None:
    project_id = new_project_id()
    policy = frozenset({"kms:cmk:create", "kms:cmk:list"})
    creds = gateway.call(gateway.rt.auth.create_credentials(project_id, None, policy))
    assert creds["allowed_actions"] == ["kms:cmk:create", "kms:cmk:list"]
    sdk = sdk_client(gateway.rest_url, creds, str(tmp_path))
    alias = f"s-{uuid.uuid4().hex[:8]}"
    key_id = sdk.create_key(m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=alias))).key_info.key_id
    assert sdk.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody())).keys
    with pytest.raises(ClientRequestException) as info:
        sdk.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id)))
    assert (info.value.status_code, info.value.error_code) == (403, "KMS.0307")
    with pytest.raises(ClientRequestException) as info:
        sdk.create_datakey(m.CreateDatakeyRequest(body=m.CreateDatakeyRequestBody(key_id=key_id, datakey_length="256")))
    assert (info.value.status_code, info.value.error_code) == (403, "KMS.0307")


def test_grpc_token_policy(gateway) -> None:
    project_id = new_project_id()
    admin = gateway.stub(gateway.token(project_id))
    key_id = admin.CreateKey(pb.CreateKeyRequest(key_alias=f"g-{uuid.uuid4().hex[:8]}")).key_info.key_id
    limited = gateway.stub(gateway.token(project_id, actions=DEK))
    dk = limited.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    assert dk.cipher_text
    batch = limited.BatchCreateDataKey(pb.BatchCreateDataKeyRequest(key_id=key_id, count=2))
    assert len(batch.results) == 2
    for call, request in [
        (limited.DescribeKey, pb.KeyIdRequest(key_id=key_id)),
        (limited.CreateKey, pb.CreateKeyRequest(key_alias=f"g-{uuid.uuid4().hex[:8]}")),
        (limited.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"hi")),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            call(request)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert kms_code(info.value) == "KMS.0307"


def test_policy_change_reaches_cached_callers_in_process(gateway) -> None:
    """In the same process a policy write moves the store generation: the next request sees it."""
    project_id = new_project_id()
    creds = gateway.call(gateway.rt.auth.create_credentials(project_id, None, frozenset({"kms:cmk:list"})))
    rest = Rest(gateway.rest_url, project_id, creds=creds)
    try:
        rest.ok("/list-keys", {})
        assert error_of(rest.call("/create-key", {"key_alias": f"c-{uuid.uuid4().hex[:8]}"})) == (403, "KMS.0307")
        gateway.rt.auth.set_credential_actions(creds["access_key"], None)
        rest.create_key()
        gateway.rt.auth.set_credential_actions(creds["access_key"], frozenset({"kms:cmk:create"}))
        assert error_of(rest.call("/list-keys", {})) == (403, "KMS.0307")
    finally:
        rest.close()


# -- the CLI against a running `kmsgw serve` ------------------------------------------------
def _run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _until(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout} s")


def test_cli_policy_change_reaches_a_running_server(tmp_path) -> None:
    data_dir = tmp_path / "var"
    project_id = new_project_id()
    # Create and refuse before the server starts, so the data dir exists for both.
    creds = cli(data_dir, "credentials", "create", "--project-id", project_id, "--allow", "kms:cmk:list")
    assert creds["allowed_actions"] == ["kms:cmk:list"]
    bad = _run_cli(data_dir, "credentials", "create", "--project-id", project_id, "--allow", "kms:cmk:fly")
    assert bad.returncode == 2 and "kms:cmk:fly" in bad.stderr
    bad = _run_cli(data_dir, "credentials", "allow", "--access-key", creds["access_key"])
    assert bad.returncode == 2
    shown = cli(data_dir, "credentials", "show", "--access-key", creds["access_key"])
    assert shown == {k: creds[k] for k in ("access_key", "project_id", "domain_id", "user_id", "allowed_actions")}
    assert "secret_key" not in shown

    server = start_serve(data_dir)
    rest = Rest(f"http://127.0.0.1:{server.http_port}", project_id, creds=creds)
    alias = f"c-{uuid.uuid4().hex[:8]}"
    try:
        rest.ok("/list-keys", {})
        assert error_of(rest.call("/create-key", {"key_alias": alias})) == (403, "KMS.0307")

        cli(data_dir, "credentials", "allow", "--access-key", creds["access_key"], "--all")
        bound = POLICY_RECHECK_SECONDS + 5  # the recheck period, plus slack for a loaded machine
        _until(lambda: rest.call("/create-key", {"key_alias": alias}).status_code == 200, bound)

        out = cli(data_dir, "credentials", "allow", "--access-key", creds["access_key"], "kms:cmk:create")
        assert out["allowed_actions"] == ["kms:cmk:create"]
        _until(lambda: rest.call("/list-keys", {}).status_code == 403, bound)
    finally:
        rest.close()
        server.terminate()
    token = cli(data_dir, "token", "create", "--project-id", project_id, "--allow", "kms:cmk:list", "kms:cmk:get")
    assert token["allowed_actions"] == ["kms:cmk:get", "kms:cmk:list"]
