"""Key lifecycle, aliases, tags, policies and rotation through boto3 against `kmsgw serve --aws`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws.conftest import ACCOUNT, REGION, AwsGateway


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Message"]


def test_create_describe_list_keys(kms: Any) -> None:
    meta = kms.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["Arn"] == arn and meta["AWSAccountId"] == ACCOUNT
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert (meta["KeyUsage"], meta["KeyState"], meta["Enabled"], meta["Origin"]) == (
        "ENCRYPT_DECRYPT",
        "Enabled",
        True,
        "AWS_KMS",
    )
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"] and meta["KeyManager"] == "CUSTOMER"
    for ref in (meta["KeyId"], arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["Description"] == "orders"
    listed = []
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}):
        listed += page["Keys"]
    assert {"KeyId": meta["KeyId"], "KeyArn": arn} in listed
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "a"}]


def test_enable_disable_and_description(kms: Any, key: dict[str, Any]) -> None:
    kms.disable_key(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])  # idempotent, as on AWS
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert error(exc)[:2] == ("DisabledException", 400)
    kms.enable_key(KeyId=key["KeyId"])
    kms.update_key_description(KeyId=key["KeyId"], Description="renamed")
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["Description"]) == ("Enabled", "renamed")


def test_schedule_and_cancel_deletion(kms: Any, key: dict[str, Any]) -> None:
    for days in (6, 31):
        with pytest.raises(ClientError) as exc:
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=days)
        assert error(exc)[:2] == ("ValidationException", 400)
    out = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert (out["KeyId"], out["KeyState"], out["PendingWindowInDays"]) == (key["Arn"], "PendingDeletion", 7)
    assert "DeletionDate" in kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    for call in (
        lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"),
        lambda: kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=16),
        lambda: kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("KMSInvalidStateException", 400)
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"  # as AWS


def test_not_found_and_invalid_ids(kms: Any) -> None:
    missing = str(uuid.uuid4())
    for ref in (missing, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}", "alias/nothing-here", "not-a-key"):
        with pytest.raises(ClientError) as exc:
            kms.describe_key(KeyId=ref)
        assert error(exc)[:2] == ("NotFoundException", 400), ref
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId="arn:aws:s3:::bucket")
    assert error(exc)[0] == "InvalidArnException"


def test_aliases(kms: Any, key: dict[str, Any]) -> None:
    name = f"alias/app-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert error(exc)[:2] == ("AlreadyExistsException", 400)
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="alias/aws/reserved", TargetKeyId=key["KeyId"])
    assert error(exc)[0] == "InvalidAliasNameException"
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"
    for ref in (name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"] == key["Arn"]
    blob = kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=alias_arn)["Plaintext"] == b"via alias"
    listed = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in listed] == [(name, alias_arn, key["KeyId"])]
    other = kms.create_key()["KeyMetadata"]
    kms.update_alias(AliasName=name, TargetKeyId=other["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    kms.delete_alias(AliasName=name)
    with pytest.raises(ClientError) as exc:
        kms.delete_alias(AliasName=name)
    assert error(exc)[:2] == ("NotFoundException", 400)


def test_tags(kms: Any, key: dict[str, Any]) -> None:
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key["Arn"])["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    with pytest.raises(ClientError) as exc:
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "aws:x", "TagValue": "1"}])
    assert error(exc)[0] == "TagException"


def test_key_policies(kms: Any, key: dict[str, Any]) -> None:
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    policy["Statement"][0]["Sid"] = "Renamed"
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"])["Statement"][0]["Sid"] == "Renamed"
    for bad in ("{not json", json.dumps({"Statement": [{"Effect": "Maybe"}]})):
        with pytest.raises(ClientError) as exc:
            kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=bad)
        assert error(exc)[:2] == ("MalformedPolicyDocumentException", 400)
    lockout = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(lockout))
    assert error(exc)[0] == "MalformedPolicyDocumentException"
    kms.put_key_policy(
        KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(lockout), BypassPolicyLockoutSafetyCheck=True
    )
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=key["KeyId"])
    assert error(exc)[:2] == ("AccessDeniedException", 400)


def test_rotation_keeps_old_blobs(kms: Any, key: dict[str, Any]) -> None:
    old = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before", EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"], status["KeyId"]) == (True, 90, key["Arn"])
    assert "NextRotationDate" in status
    assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [(r["KeyId"], r["RotationType"]) for r in rotations] == [(key["Arn"], "ON_DEMAND")]
    new = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext={"k": "v"})["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    asym = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.enable_key_rotation(KeyId=asym["KeyId"])
    assert error(exc)[0] == "UnsupportedOperationException"


def test_keys_live_per_region(aws_gateway: AwsGateway, admin: dict[str, Any], kms: Any, key: dict[str, Any]) -> None:
    eu = aws_gateway.client(admin, region="eu-west-1")
    for ref in (key["KeyId"], key["Arn"]):
        with pytest.raises(ClientError) as exc:
            eu.describe_key(KeyId=ref)
        assert error(exc)[:2] == ("NotFoundException", 400)
    assert key["KeyId"] not in [k["KeyId"] for k in eu.list_keys()["Keys"]]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"regional")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        eu.decrypt(CiphertextBlob=blob)
    assert error(exc)[0] == "InvalidCiphertextException"
    mine = eu.create_key()["KeyMetadata"]
    assert mine["Arn"].startswith(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/")
    with pytest.raises(ClientError):
        kms.describe_key(KeyId=mine["KeyId"])
