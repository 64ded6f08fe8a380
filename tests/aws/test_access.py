"""Key policies and grants enforced for real: Deny over Allow, context conditions, the permission list
behind the account root, cross-account principals, grants with their operations and constraints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws.conftest import ACCOUNT, OTHER_ACCOUNT, AwsGateway
from tests.aws.test_keys import error

ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [ROOT, *statements]})


@pytest.fixture(scope="module")
def alice(aws_gateway: AwsGateway) -> tuple[dict[str, Any], Any]:
    cred = aws_gateway.credential(ACCOUNT, "--user", "alice", "--allow", "kms:DescribeKey")
    return cred, aws_gateway.client(cred)


def test_permission_list_behind_the_account_root(alice: tuple[dict[str, Any], Any], key: dict[str, Any]) -> None:
    _, client = alice
    assert client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    with pytest.raises(ClientError) as exc:
        client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    code, status, message = error(exc)
    assert (code, status) == ("AccessDeniedException", 400)
    assert "arn:aws:iam::123456789012:user/alice" in message and "kms:Encrypt" in message
    with pytest.raises(ClientError) as exc:
        client.create_key()
    assert error(exc)[0] == "AccessDeniedException"


def test_policy_allow_for_the_user_and_deny_over_allow(
    kms: Any, alice: tuple[dict[str, Any], Any], key: dict[str, Any]
) -> None:
    cred, client = alice
    allow = {
        "Sid": "Alice",
        "Effect": "Allow",
        "Principal": {"AWS": cred["Arn"]},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
    }
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy(allow))
    blob = client.encrypt(KeyId=key["KeyId"], Plaintext=b"ok")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ok"
    deny = {"Sid": "NoDecrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy(allow, deny))
    for client_ in (client, kms):  # the Deny wins over both Allows, the admin's too
        with pytest.raises(ClientError) as exc:
            client_.decrypt(CiphertextBlob=blob)
        assert error(exc)[0] == "AccessDeniedException"
        assert "explicit deny" in error(exc)[2]
    assert client.encrypt(KeyId=key["KeyId"], Plaintext=b"still")["KeyId"] == key["Arn"]


def test_encryption_context_conditions(kms: Any, alice: tuple[dict[str, Any], Any], key: dict[str, Any]) -> None:
    cred, client = alice
    allow = {
        "Sid": "TenantA",
        "Effect": "Allow",
        "Principal": {"AWS": cred["Arn"]},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:EncryptionContext:tenant": "a", "kms:CallerAccount": ACCOUNT},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "purpose"]},
        },
    }
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy(allow))
    blob = client.encrypt(KeyId=key["KeyId"], Plaintext=b"t", EncryptionContext={"tenant": "a"})["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "a"})["Plaintext"] == b"t"
    for context in ({"tenant": "b"}, {}, {"tenant": "a", "other": "x"}, {"Tenant": "a"}):
        with pytest.raises(ClientError) as exc:
            client.encrypt(KeyId=key["KeyId"], Plaintext=b"t", EncryptionContext=context)
        assert error(exc)[0] == "AccessDeniedException", context


def test_grants(kms: Any, aws_gateway: AwsGateway, key: dict[str, Any]) -> None:
    bob_cred = aws_gateway.credential(ACCOUNT, "--user", "bob", "--allow", "kms:ListRetirableGrants")
    bob = aws_gateway.client(bob_cred)
    with pytest.raises(ClientError):
        bob.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32)
    grant = kms.create_grant(
        KeyId=key["Arn"],
        GranteePrincipal=bob_cred["Arn"],
        RetiringPrincipal=bob_cred["Arn"],
        Operations=["GenerateDataKey", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"app": "orders"}},
        Name="orders",
    )
    dk = bob.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32, EncryptionContext={"app": "orders", "n": "1"})
    back = bob.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"app": "orders", "n": "1"})
    assert back["Plaintext"] == dk["Plaintext"]
    for call in (
        lambda: bob.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32, EncryptionContext={"app": "billing"}),
        lambda: bob.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "orders"}),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[0] == "AccessDeniedException"
    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [(g["GrantId"], g["KeyId"], g["GranteePrincipal"], g["Name"]) for g in listed] == [
        (grant["GrantId"], key["Arn"], bob_cred["Arn"], "orders")
    ]
    assert listed[0]["Constraints"] == {"EncryptionContextSubset": {"app": "orders"}}
    assert listed[0]["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
    retirable = bob.list_retirable_grants(RetiringPrincipal=bob_cred["Arn"])["Grants"]
    assert [g["GrantId"] for g in retirable] == [grant["GrantId"]]
    bob.retire_grant(GrantToken=grant["GrantToken"])
    with pytest.raises(ClientError):
        bob.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32, EncryptionContext={"app": "orders"})
    again = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=bob_cred["Arn"], Operations=["Encrypt"])
    assert bob.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=again["GrantId"])
    with pytest.raises(ClientError) as exc:
        bob.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert error(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=again["GrantId"])
    assert error(exc)[0] == "NotFoundException"


def test_cross_account_principal(kms: Any, aws_gateway: AwsGateway, key: dict[str, Any]) -> None:
    carol_cred = aws_gateway.credential(OTHER_ACCOUNT, "--user", "carol")
    carol = aws_gateway.client(carol_cred)
    with pytest.raises(ClientError) as exc:
        carol.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert error(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        carol.encrypt(KeyId=key["KeyId"], Plaintext=b"x")  # a bare key id names a key of carol's own account
    assert error(exc)[0] == "NotFoundException"
    allow = {
        "Sid": "Carol",
        "Effect": "Allow",
        "Principal": {"AWS": carol_cred["Arn"]},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy(allow))
    assert carol.encrypt(KeyId=key["Arn"], Plaintext=b"x")["KeyId"] == key["Arn"]
