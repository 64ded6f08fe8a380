"""Authentication over gRPC: missing, forged and expired tokens."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import message_factory

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.kms import UNAUTHENTICATED, expect_error

EVERY_RPC = [
    ("CreateKey", pb.CreateKeyRequest(key_alias="a")),
    ("DescribeKey", pb.KeyIdRequest(key_id=str(uuid.uuid4()))),
    ("ListKeys", pb.ListKeysRequest()),
    ("EnableKey", pb.KeyIdRequest(key_id=str(uuid.uuid4()))),
    ("DisableKey", pb.KeyIdRequest(key_id=str(uuid.uuid4()))),
    ("ScheduleKeyDeletion", pb.ScheduleKeyDeletionRequest(key_id=str(uuid.uuid4()), pending_days=7)),
    ("CancelKeyDeletion", pb.KeyIdRequest(key_id=str(uuid.uuid4()))),
    ("UpdateKeyAlias", pb.UpdateKeyAliasRequest(key_id=str(uuid.uuid4()), key_alias="b")),
    ("UpdateKeyDescription", pb.UpdateKeyDescriptionRequest(key_id=str(uuid.uuid4()))),
    ("GenerateRandom", pb.GenerateRandomRequest(random_data_length=64)),
    ("CreateDataKey", pb.CreateDataKeyRequest(key_id=str(uuid.uuid4()))),
    ("CreateDataKeyWithoutPlaintext", pb.CreateDataKeyRequest(key_id=str(uuid.uuid4()))),
    ("EncryptDataKey", pb.EncryptDataKeyRequest(key_id=str(uuid.uuid4()))),
    ("DecryptDataKey", pb.DecryptDataKeyRequest(key_id=str(uuid.uuid4()))),
    ("EncryptData", pb.EncryptDataRequest(key_id=str(uuid.uuid4()), plain_text=b"x")),
    ("DecryptData", pb.DecryptDataRequest(cipher_text=b"x")),
    ("GetUserInstances", pb.Empty()),
    ("GetUserQuotas", pb.Empty()),
    ("BatchCreateDataKey", pb.BatchCreateDataKeyRequest(key_id=str(uuid.uuid4()), count=1)),
    ("BatchEncryptDataKey", pb.BatchEncryptDataKeyRequest()),
    ("BatchDecryptDataKey", pb.BatchDecryptDataKeyRequest()),
]


SERVICE = pb.DESCRIPTOR.services_by_name["KeyManagementService"]


def test_every_rpc_is_covered():
    assert {name for name, _ in EVERY_RPC} <= {m.name for m in SERVICE.methods}


@pytest.mark.parametrize("method", list(SERVICE.methods), ids=lambda m: m.name)
def test_every_method_of_the_service_needs_a_token(gateway, method):
    """Whatever the RPC (the core's or a later group's), no token means KMS.0301 before anything else."""
    request = message_factory.GetMessageClass(method.input_type)()
    expect_error(UNAUTHENTICATED, "KMS.0301", getattr(gateway.stub(None), method.name), request)
    expect_error(UNAUTHENTICATED, "KMS.0302", getattr(gateway.stub("kmsgw1.forged"), method.name), request)


@pytest.mark.parametrize(("rpc", "request_"), EVERY_RPC, ids=[name for name, _ in EVERY_RPC])
def test_missing_token(gateway, rpc, request_):
    expect_error(UNAUTHENTICATED, "KMS.0301", getattr(gateway.stub(None), rpc), request_)


def test_empty_token(gateway):
    stub = pb_grpc.KeyManagementServiceStub(grpc.insecure_channel(gateway.grpc_target))
    with pytest.raises(grpc.RpcError) as info:
        stub.ListKeys(pb.ListKeysRequest(), metadata=(("x-auth-token", ""),), timeout=10)
    assert info.value.code() == UNAUTHENTICATED
    assert dict(info.value.trailing_metadata())["kms-error-code"] == "KMS.0301"


@pytest.mark.parametrize(
    "forged",
    [
        "garbage",
        "kmsgw1.",
        "kmsgw1." + "A" * 43,
        "Bearer kmsgw1.abc",
        "kmsgw1." + "x" * 200,
    ],
)
def test_forged_token(gateway, forged):
    expect_error(UNAUTHENTICATED, "KMS.0302", gateway.stub(forged).ListKeys, pb.ListKeysRequest())


def test_token_altered_by_one_character(gateway):
    token = gateway.token()
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    expect_error(UNAUTHENTICATED, "KMS.0302", gateway.stub(altered).ListKeys, pb.ListKeysRequest())
    assert gateway.stub(token).ListKeys(pb.ListKeysRequest()).total == 0


def test_expired_token(gateway, clock):
    token = gateway.token(ttl=60)
    kms = gateway.stub(token)
    assert kms.ListKeys(pb.ListKeysRequest()).total == 0  # also warms the server's token cache
    clock.advance(59)
    assert kms.ListKeys(pb.ListKeysRequest()).total == 0
    clock.advance(2)
    expect_error(UNAUTHENTICATED, "KMS.0303", kms.ListKeys, pb.ListKeysRequest())
    expect_error(UNAUTHENTICATED, "KMS.0303", kms.CreateDataKey, pb.CreateDataKeyRequest(key_id=str(uuid.uuid4())))
    clock.reset()
    assert kms.ListKeys(pb.ListKeysRequest()).total == 0


def test_token_binds_the_project(gateway):
    project_id = uuid.uuid4().hex
    a = gateway.stub(gateway.token(project_id))
    b = gateway.stub(gateway.token(project_id))
    key_id = a.CreateKey(pb.CreateKeyRequest(key_alias="shared")).key_info.key_id
    assert list(b.ListKeys(pb.ListKeysRequest()).keys) == [key_id]
    assert list(gateway.stub(gateway.token()).ListKeys(pb.ListKeysRequest()).keys) == []


def test_error_trailers_carry_message(gateway):
    with pytest.raises(grpc.RpcError) as info:
        gateway.stub(None).ListKeys(pb.ListKeysRequest())
    md = dict(info.value.trailing_metadata())
    assert md["kms-error-code"] == "KMS.0301" and md["kms-error-msg"]
    assert "KMS.0301" in info.value.details()


WITH_SEQUENCE = [m for m in SERVICE.methods if "sequence" in m.input_type.fields_by_name]


@pytest.mark.parametrize("method", WITH_SEQUENCE, ids=lambda m: m.name)
def test_every_sequence_field_is_checked(gateway, kms, method):
    """docs/api.md: any request may carry `sequence`, and a malformed one is KMS.0206 whatever the RPC."""
    request = message_factory.GetMessageClass(method.input_type)(sequence="not-36-characters")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, "KMS.0206", getattr(kms, method.name), request)
