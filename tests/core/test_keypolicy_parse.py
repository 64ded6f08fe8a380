"""Key policy documents: what parse() accepts, what it refuses and with which message."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from gateway.core.keypolicy import MAX_POLICY_BYTES, MalformedPolicy, Policy, PolicyTooLarge, default_policy, parse
from gateway.core.keypolicy.errors import INVALID_PRINCIPALS, NO_PRINCIPAL, OVERLY_PERMISSIVE_CONTEXT

ACCOUNT = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/Alice"

# `aws kms get-key-policy --policy-name default --output text` on a key created without a policy,
# as the AWS KMS Developer Guide shows it.
AWS_DEFAULT_POLICY_TEXT = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""

# The complete example key policy of the AWS KMS Developer Guide ("Creating a key policy").
AWS_EXAMPLE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Id": "key-consolepolicy-2",
    "Statement": [
        {
            "Sid": "Enable IAM policies",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": {
                "AWS": ["arn:aws:iam::111122223333:user/KMSAdminUser", "arn:aws:iam::111122223333:role/KMSAdminRole"]
            },
            "Action": [
                "kms:Create*",
                "kms:Describe*",
                "kms:Enable*",
                "kms:List*",
                "kms:Put*",
                "kms:Update*",
                "kms:Revoke*",
                "kms:Disable*",
                "kms:Get*",
                "kms:Delete*",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CancelKeyDeletion",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": {
                "AWS": [
                    "arn:aws:iam::111122223333:user/ExampleUser",
                    "arn:aws:iam::111122223333:role/ExampleRole",
                    "arn:aws:iam::444455556666:root",
                ]
            },
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
        },
        {
            "Sid": "Allow attachment of persistent resources",
            "Effect": "Allow",
            "Principal": {
                "AWS": [
                    "arn:aws:iam::111122223333:user/ExampleUser",
                    "arn:aws:iam::111122223333:role/ExampleRole",
                    "arn:aws:iam::444455556666:root",
                ]
            },
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ],
}


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:Encrypt", "Resource": "*"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def doc(*statements: dict[str, Any], **top: Any) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements) or [statement()]}
    body.update(top)
    return json.dumps({k: v for k, v in body.items() if v is not None}, ensure_ascii=False)


def test_default_policy_is_the_text_aws_returns() -> None:
    assert default_policy(ACCOUNT) == AWS_DEFAULT_POLICY_TEXT
    assert json.loads(default_policy("000000000000"))["Statement"][0]["Principal"]["AWS"] == (
        "arn:aws:iam::000000000000:root"
    )


@pytest.mark.parametrize("account", ["", "12345678901", "1234567890123", "abcdefghijkl", "1234-5678-901"])
def test_default_policy_wants_a_twelve_digit_account(account: str) -> None:
    with pytest.raises(ValueError):
        default_policy(account)


def test_parse_keeps_the_original_text_for_get_key_policy() -> None:
    text = (
        '{ "Version":"2012-10-17",\n\t"Statement": {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}'
    )
    policy = parse(text)
    assert isinstance(policy, Policy)
    assert policy.text == text
    assert policy.version == "2012-10-17"
    assert len(policy.statements) == 1


def test_aws_documentation_examples_parse() -> None:
    policy = parse(json.dumps(AWS_EXAMPLE_POLICY))
    assert policy.id == "key-consolepolicy-2"
    assert [s.sid for s in policy.statements] == [s["Sid"] for s in AWS_EXAMPLE_POLICY["Statement"]]
    assert parse(AWS_DEFAULT_POLICY_TEXT).statements[0].principals.accounts == {ACCOUNT}


@pytest.mark.parametrize(
    "text",
    [
        doc(statement(Sid="A sid with spaces, as key policies allow")),
        doc(Version="2008-10-17"),
        doc(statement(Principal="*")),
        doc(statement(Principal={"AWS": "*"})),
        doc(statement(Principal={"AWS": ACCOUNT})),
        doc(statement(Principal={"AWS": [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"]})),
        doc(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/service-role/path/App"})),
        doc(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/division/Bob"})),
        doc(statement(Principal={"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/App/session-1"})),
        doc(statement(Principal={"AWS": f"arn:aws:sts::{ACCOUNT}:federated-user/carol"})),
        doc(statement(Principal={"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"})),
        doc(statement(Principal={"Service": "logs.us-east-1.amazonaws.com"})),
        doc(statement(Principal={"Federated": "cognito-identity.amazonaws.com"})),
        doc(statement(Action="*")),
        doc(statement(Action=["kms:Generate*", "kms:ReEncrypt?rom", "KMS:decrypt"])),
        doc(statement(Action=None, NotAction="kms:ScheduleKeyDeletion")),
        doc(statement(Resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")),
        doc(statement(Resource=[f"arn:aws:kms:*:{ACCOUNT}:key/*", "*"])),
        doc(statement(Resource=None, NotResource=f"arn:aws:kms:*:{ACCOUNT}:key/other")),
        doc(statement(Condition={"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}})),
        doc(statement(Condition={"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["App*", "Dep?"]}})),
        doc(
            statement(Condition={"NumericLessThanEquals": {"kms:Whatever": 10}, "Bool": {"aws:SecureTransport": True}})
        ),
        doc(statement(Condition={"StringNotEqualsIfExists": {"kms:ViaService": ["a", "b"]}})),
        doc(statement(Condition={"Null": {"kms:BypassPolicyLockoutSafetyCheck": True}})),
        doc(statement(Condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}})),
        doc(statement(Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
        doc(statement(Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}})),
        doc(statement(Condition={"stringequals": {"KMS:CallerAccount": ACCOUNT}})),
        json.dumps({"Version": "2012-10-17", "Statement": statement()}),  # a single statement object
    ],
)
def test_valid_policies_parse(text: str) -> None:
    assert parse(text).text == text


MALFORMED: list[tuple[str, str]] = [
    ("not json", "not valid JSON"),
    ("{", "not valid JSON"),
    ('{"Version": NaN}', "not valid JSON"),
    ("[" * 3000 + "]" * 3000, "not valid JSON"),
    ("", "empty"),
    ("  \n ", "empty"),
    ("[]", "JSON object"),
    ('"policy"', "JSON object"),
    (doc(Version=None), "Version"),
    (doc(Version="2020-01-01"), "Version must be 2012-10-17"),
    (doc(Version=20121017), "Version must be 2012-10-17"),
    (doc(Id=5), "Id must be a string"),
    (json.dumps({"Version": "2012-10-17"}), "Statement"),
    (json.dumps({"Version": "2012-10-17", "Statement": []}), "Statement"),
    (json.dumps({"Version": "2012-10-17", "Statement": ["x"]}), "JSON object"),
    (doc(Foo="bar"), "element key policies do not have: Foo"),
    (doc(statement(Principals={"AWS": USER})), "element key policies do not have: Principals"),
    (doc(statement(Effect=None)), "Effect"),
    (doc(statement(Effect="allow")), "Effect"),
    (doc(statement(Sid=7)), "Sid"),
    (doc(statement(Sid="same"), statement(Sid="same")), "SID"),
    (doc(statement(Principal=None)), NO_PRINCIPAL),
    (doc(statement(Principal={})), NO_PRINCIPAL),
    (doc(statement(Principal=[USER])), NO_PRINCIPAL),
    (doc(statement(Principal=None, NotPrincipal={"AWS": USER})), "NotPrincipal"),
    (doc(statement(Principal=USER)), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": "Alice"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": "AIDACKCEVSQ6C2EXAMPLE"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": "11112222333"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:group/Admins"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": f"arn:aws:s3:::{ACCOUNT}"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": []})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"AWS": [USER, 5]})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"Group": "Admins"})), INVALID_PRINCIPALS),
    (doc(statement(Principal={"Service": "Not A Service"})), INVALID_PRINCIPALS),
    (doc(statement(Action=None)), "Action or NotAction"),
    (doc(statement(NotAction="kms:Decrypt")), "not both"),
    (doc(statement(Action=[])), "non-empty"),
    (doc(statement(Action=5)), "non-empty"),
    (doc(statement(Action=[""])), "non-empty"),
    (doc(statement(Action="Encrypt")), "prefaced by a vendor"),
    (doc(statement(Action="kms:Encrypt:Now")), "only one colon"),
    (doc(statement(Resource=None)), "Resource or NotResource"),
    (doc(statement(NotResource="*")), "not both"),
    (doc(statement(Resource="key/1234")), "ARN format"),
    (doc(statement(Resource="arn:aws:kms")), "ARN format"),
    (doc(statement(Condition=[])), "Condition element must be a JSON object"),
    (doc(statement(Condition={"StringEqualz": {"kms:CallerAccount": ACCOUNT}})), "invalid condition operator"),
    (doc(statement(Condition={"ForSomeValues:StringEquals": {"kms:CallerAccount": "x"}})), "condition operator"),
    (doc(statement(Condition={"NullIfExists": {"kms:CallerAccount": "true"}})), "invalid condition operator"),
    (doc(statement(Condition={"StringEquals": {}})), "must map condition keys"),
    (doc(statement(Condition={"StringEquals": "x"})), "must map condition keys"),
    (doc(statement(Condition={"StringEquals": {"AppName": "x"}})), "prefaced by a vendor"),
    (doc(statement(Condition={"StringEquals": {"kms:CallerAccount": {"a": 1}}})), "not a string"),
    (doc(statement(Condition={"StringEquals": {"kms:CallerAccount": [None]}})), "not a string"),
    (doc(statement(Condition={"Null": {"kms:CallerAccount": "maybe"}})), "true or false"),
    (doc(statement(Condition={"IpAddress": {"aws:SourceIp": "not-an-ip"}})), "IP address"),
    (
        doc(statement(Condition={"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}})),
        OVERLY_PERMISSIVE_CONTEXT,
    ),
    ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', "names Version twice"),
    (doc(statement(Sid="caf\u0113")), "Latin-1"),
    (doc(statement(Sid="bell")).replace("bell", "bell\x07"), "Latin-1"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_policies_are_refused_with_a_message(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        parse(text)
    assert message in str(caught.value)
    assert not isinstance(caught.value, PolicyTooLarge)


def test_aws_principal_messages_are_aws_own_words() -> None:
    assert NO_PRINCIPAL == "Policy contains a statement with no principal."
    assert INVALID_PRINCIPALS == "Policy contains a statement with one or more invalid principals."


def test_non_string_input_is_malformed() -> None:
    with pytest.raises(MalformedPolicy):
        parse(cast(str, b"{}"))  # what a careless caller might hand over


def padded(size: int, *, filler: str = " ") -> str:
    """A valid policy of exactly ``size`` UTF-8 bytes (the filler is whitespace or a Sid's text)."""
    base = doc(statement(Sid="x"))
    missing = size - len(base.encode())
    if filler == " ":
        return base + " " * missing
    count = missing // len(filler.encode())
    text = doc(statement(Sid="x" + filler * count))
    return text + " " * (size - len(text.encode()))


def test_the_size_quota_is_32_kilobytes_of_utf8() -> None:
    assert parse(padded(MAX_POLICY_BYTES)).text.endswith(" ")
    assert parse(padded(MAX_POLICY_BYTES, filler="\u00e9")).statements[0].sid
    with pytest.raises(PolicyTooLarge) as caught:
        parse(padded(MAX_POLICY_BYTES + 1))
    assert "32768" in str(caught.value)
    assert isinstance(caught.value, MalformedPolicy)  # a transport that only knows MalformedPolicy still refuses
    with pytest.raises(PolicyTooLarge):  # Latin-1 letters take two bytes each
        parse(padded(MAX_POLICY_BYTES + 2, filler="\u00e9"))


def test_statements_are_indexed_per_action_deny_first() -> None:
    policy = parse(
        doc(
            statement(Sid="allow", Action="kms:*"),
            statement(Sid="deny", Effect="Deny", Action="kms:Decrypt"),
            statement(Sid="other", Action="kms:Sign"),
        )
    )
    assert [s.sid for s in policy.statements_for("kms:Decrypt")] == ["deny", "allow"]
    assert [s.sid for s in policy.statements_for("KMS:DECRYPT")] == ["deny", "allow"]
    assert [s.sid for s in policy.statements_for("kms:Encrypt")] == ["allow"]
    assert policy.statements_for("s3:GetObject") == ()
    assert policy.statements_for("kms:Decrypt") is policy.statements_for("kms:Decrypt")  # worked out once
