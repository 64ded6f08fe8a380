"""The request pipeline hands one AuditEvent per finished request to the audit sink (success, error,
auth failure), on every transport and under the same operation name.

A tiny in-test sink collects the events on the shared in-process gateway for the duration of a
test (the previous sink is put back after). A sink that cannot write fails the request closed:
REST 500 KMS.0101, gRPC INTERNAL — no answer leaves without its audit line.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest

from gateway.core.ports.audit import AuditEvent
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.gateway import kms_code, new_project_id
from tests.support.rest import Rest, error_of

SEQUENCE = "919c82d4-8046-4722-9094-35c3c6524cff"


class Collector:
    """An AuditSink that keeps the events in memory (or fails, like a full disk)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.broken = False

    def record(self, event: AuditEvent) -> None:
        if self.broken:
            raise OSError("disk full")
        self.events.append(event)


@pytest.fixture
def audit(gateway) -> Iterator[Collector]:
    services = gateway.rt.services  # what every transport was handed: its sink is read per request
    previous = services.audit
    collector = Collector()
    services.audit = collector
    try:
        yield collector
    finally:
        services.audit = previous


def test_rest_events(gateway, audit) -> None:
    project_id = new_project_id()
    creds = gateway.call(gateway.rt.auth.create_credentials(project_id, None, frozenset({"kms:cmk:create"})))
    rest = Rest(gateway.rest_url, project_id, creds=creds)
    try:
        resp = rest.call("/create-key", {"key_alias": f"a-{uuid.uuid4().hex[:8]}", "sequence": SEQUENCE})
        assert resp.status_code == 200
        key_id = resp.json()["key_info"]["key_id"]
        ok = audit.events[-1]
        assert ok == AuditEvent(
            transport="rest",
            op="create_key",
            action="kms:cmk:create",
            principal=creds["access_key"],
            project_id=project_id,
            key_id="",  # create-key names no key
            result="OK",
            request_id=resp.headers["x-request-id"],
            sequence=SEQUENCE,
        )
        # Refused by the policy: the key id of the body is still recorded, with the code answered.
        resp = rest.call("/encrypt-data", {"key_id": key_id, "plain_text": "c2VjcmV0"})
        assert error_of(resp) == (403, "KMS.0307")
        denied = audit.events[-1]
        assert (denied.op, denied.action, denied.result, denied.key_id) == (
            "encrypt_data",
            "kms:cmk:crypto",
            "KMS.0307",
            key_id,
        )
        assert denied.request_id == resp.headers["x-request-id"]
        assert "c2VjcmV0" not in repr(audit.events)  # never a plaintext
    finally:
        rest.close()

    # Authentication failures and unknown paths are recorded too, with no principal.
    anon = Rest(gateway.rest_url, project_id)
    try:
        assert error_of(anon.call("/list-keys", {})) == (403, "KMS.0301")
        failed = audit.events[-1]
        assert (failed.principal, failed.project_id, failed.op, failed.result) == ("", "", "list_keys", "KMS.0301")
        # An unauthenticated body is never parsed, not even for the audit line's key id.
        assert error_of(anon.call("/describe-key", {"key_id": key_id}))[1] == "KMS.0301"
        assert (audit.events[-1].op, audit.events[-1].key_id) == ("describe_key", "")
        assert error_of(anon.call("/no-such-op", {}))[1] == "KMS.0201"
        assert (audit.events[-1].op, audit.events[-1].action) == ("unknown", "")
    finally:
        anon.close()


def test_grpc_events_and_request_id(gateway, audit) -> None:
    project_id = new_project_id()
    token = gateway.token(project_id, user_id="u-audit")
    kms = gateway.stub(token)
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias=f"g-{uuid.uuid4().hex[:8]}")).key_info.key_id
    created = audit.events[-1]
    assert (created.transport, created.op, created.principal, created.project_id, created.result) == (
        "grpc",
        "create_key",
        "u-audit",
        project_id,
        "OK",
    )

    channel = grpc.insecure_channel(gateway.grpc_target)
    try:
        raw = channel.unary_unary(
            "/kms.v1.KeyManagementService/BatchEncryptDataKey",
            request_serializer=pb.BatchEncryptDataKeyRequest.SerializeToString,
            response_deserializer=pb.BatchEncryptDataKeyResponse.FromString,
        )
        items = [pb.EncryptDataKeyRequest(key_id=key_id, plain_text=b"\x01" * 32, datakey_plain_length=32)] * 2
        md = (("x-auth-token", token), ("x-request-id", "client-chosen-id.1"))
        _, call = raw.with_call(pb.BatchEncryptDataKeyRequest(items=items), metadata=md, timeout=30)
        assert dict(call.trailing_metadata())["x-request-id"] == "client-chosen-id.1"
        batch = audit.events[-1]
        assert (batch.op, batch.action, batch.key_id, batch.request_id) == (
            "batch_encrypt_datakey",
            "kms:dek:crypto",
            key_id,
            "client-chosen-id.1",
        )
        # An insane request id is replaced by a generated one, which is sent back.
        md = (("x-auth-token", token), ("x-request-id", "bad id with spaces"))
        _, call = raw.with_call(pb.BatchEncryptDataKeyRequest(items=items), metadata=md, timeout=30)
        sent = dict(call.trailing_metadata())["x-request-id"]
        assert sent != "bad id with spaces" and audit.events[-1].request_id == sent
    finally:
        channel.close()

    with pytest.raises(grpc.RpcError) as info:
        gateway.stub(None).DescribeKey(pb.KeyIdRequest(key_id=key_id))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    trailers = dict(info.value.trailing_metadata())
    failed = audit.events[-1]
    assert (failed.principal, failed.result, failed.key_id) == ("", kms_code(info.value), key_id)
    assert failed.request_id == trailers["x-request-id"]


def test_audit_failure_fails_closed(gateway, audit) -> None:
    project_id = new_project_id()
    token = gateway.token(project_id)
    rest = Rest(gateway.rest_url, project_id, token=token)
    kms = gateway.stub(token)
    try:
        audit.broken = True
        resp = rest.call("/gen-random", {"random_data_length": "256"})
        assert error_of(resp) == (500, "KMS.0101")
        assert "random_data" not in resp.text
        with pytest.raises(grpc.RpcError) as info:
            kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=256))
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert kms_code(info.value) == "KMS.0101"
        audit.broken = False
        rest.ok("/gen-random", {"random_data_length": "256"})
    finally:
        rest.close()


def test_one_operation_has_one_name_on_every_transport(gateway, audit) -> None:
    """A REST call and the gRPC call of one operation are audited, measured and limited under one name."""
    project_id = new_project_id()
    token = gateway.token(project_id)
    rest = Rest(gateway.rest_url, project_id, token=token)
    kms = gateway.stub(token)
    try:
        key_id = rest.create_key()
        pairs = [
            (
                lambda: rest.call(f"/{key_id}/tags", {"tag": {"key": "a", "value": "1"}}),
                lambda: kms.CreateKeyTag(pb.CreateKeyTagRequest(key_id=key_id, tag=pb.TagItem(key="b", value="2"))),
            ),
            (
                lambda: rest.call(f"/{key_id}/tags", method="GET"),
                lambda: kms.ListKeyTags(pb.KeyIdRequest(key_id=key_id)),
            ),
            (lambda: rest.call("/tags", method="GET"), lambda: kms.ListProjectTags(pb.Empty())),
            (
                lambda: rest.call(f"/{key_id}/tags/a", method="DELETE"),
                lambda: kms.DeleteKeyTag(pb.DeleteKeyTagRequest(key_id=key_id, key="b")),
            ),
            (
                lambda: rest.call("/gen-random", {"random_data_length": "64"}),
                lambda: kms.GenerateRandom(pb.GenerateRandomRequest(random_data_length=64)),
            ),
            (lambda: rest.call("/user-instances", method="GET"), lambda: kms.GetUserInstances(pb.Empty())),
        ]
        for over_rest, over_grpc in pairs:
            assert over_rest().status_code in (200, 204)
            by_rest = audit.events[-1]
            over_grpc()
            by_grpc = audit.events[-1]
            assert (by_rest.transport, by_grpc.transport) == ("rest", "grpc")
            assert (by_rest.op, by_rest.action) == (by_grpc.op, by_grpc.action), (by_rest, by_grpc)
            assert by_rest.result == by_grpc.result == "OK"
    finally:
        rest.close()
    with httpx.Client(base_url=gateway.rest_url, trust_env=False) as http:
        text = http.get("/metrics").text
    for op in ("create_kms_tag", "show_kms_tags", "list_kms_tags", "delete_tag", "gen_random", "user_instances"):
        for transport in ("rest", "grpc"):
            assert re.search(rf'kmsgw_request_seconds_count\{{op="{op}",transport="{transport}"\}} [1-9]', text), (
                op,
                transport,
            )
    for former in ("create_key_tag", "list_key_tags", "list_project_tags", "delete_key_tag"):
        assert f'op="{former}"' not in text


def test_refused_by_the_gate_names_the_key_on_both_transports(gateway, audit) -> None:
    """A request refused by the policy is decoded only to record its key; an unauthenticated REST body never."""
    project_id = new_project_id()
    key_id = (
        gateway.stub(gateway.token(project_id))
        .CreateKey(pb.CreateKeyRequest(key_alias=f"r-{uuid.uuid4().hex[:8]}"))
        .key_info.key_id
    )
    limited = gateway.token(project_id, actions=frozenset({"kms:cmk:list"}))
    with pytest.raises(grpc.RpcError) as info:
        gateway.stub(limited).EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"x", sequence=SEQUENCE))
    assert kms_code(info.value) == "KMS.0307"
    refused = audit.events[-1]
    assert (refused.op, refused.key_id, refused.sequence, refused.result) == (
        "encrypt_data",
        key_id,
        SEQUENCE,
        "KMS.0307",
    )
    rest = Rest(gateway.rest_url, project_id, token=limited)
    try:
        assert error_of(rest.call("/encrypt-data", {"key_id": key_id, "plain_text": "eA==", "sequence": SEQUENCE})) == (
            403,
            "KMS.0307",
        )
    finally:
        rest.close()
    assert (audit.events[-1].op, audit.events[-1].key_id, audit.events[-1].sequence) == (
        "encrypt_data",
        key_id,
        SEQUENCE,
    )
