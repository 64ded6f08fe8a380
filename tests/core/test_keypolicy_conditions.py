"""Condition blocks: operators, set qualifiers, absent keys, the KMS condition keys, variables.

The tables follow the IAM policy reference (condition operators, multivalued keys) and the
AWS KMS Developer Guide's examples for kms:EncryptionContext:, kms:EncryptionContextKeys and
kms:CallerAccount.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.core.keypolicy import Decision, Policy, PolicyRequest, evaluate, parse

ACCOUNT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/Alice"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/RoleForExampleApp"
APP_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleForExampleApp/worker-7"
LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:my:group"  # the resource part holds colons
NOON = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> Policy:
    return parse(json.dumps({"Version": version, "Statement": list(statements)}))


def allow_if(condition: dict[str, Any], version: str = "2012-10-17") -> Policy:
    return policy(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": condition},
        version=version,
    )


def holds(condition: dict[str, Any], *, version: str = "2012-10-17", **request: Any) -> bool:
    principal = request.pop("principal", ALICE)
    account = request.pop("account", principal.split(":")[4])
    action = request.pop("action", "kms:Encrypt")
    asked = PolicyRequest(principal, account, action, KEY, **request)
    return evaluate(allow_if(condition, version), asked).allowed


def decide(p: Policy, principal: str, action: str, context: dict[str, str] | None = None, **more: Any) -> Decision:
    return evaluate(p, PolicyRequest(principal, principal.split(":")[4], action, KEY, context, **more)).decision


# --- the KMS Developer Guide's examples -----------------------------------------------------------


def test_require_one_context_pair() -> None:
    p = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": APP_ROLE},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        }
    )
    allowed: list[dict[str, str] | None] = [
        {"AppName": "ExampleApp"},
        {"AppName": "ExampleApp", "Project": "Alpha"},
        {"appname": "ExampleApp"},
    ]
    refused: list[dict[str, str] | None] = [
        None,
        {},
        {"AppName": "exampleapp"},
        {"Project": "Alpha"},
        {"AppName": "ExampleApp2"},
    ]
    for context in allowed:
        assert decide(p, APP_SESSION, "kms:GenerateDataKey", context) is Decision.ALLOW, context
    for context in refused:
        assert decide(p, APP_SESSION, "kms:GenerateDataKey", context) is Decision.IMPLICIT_DENY, context
    assert decide(p, APP_SESSION, "kms:Decrypt", {"AppName": "ExampleApp"}) is Decision.IMPLICIT_DENY


def test_condition_key_ignores_case_but_context_keys_condition_does_not() -> None:
    """AWS: the kms:EncryptionContext: key is not case sensitive; to require the key's case, add
    kms:EncryptionContextKeys with a case-sensitive operator."""
    loose = allow_if({"StringEquals": {"kms:EncryptionContext:Appname": "ExampleApp"}})
    strict = allow_if(
        {
            "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"},
            "StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"},
        }
    )
    for context, loose_ok, strict_ok in [
        ({"AppName": "ExampleApp"}, True, True),
        ({"APPNAME": "ExampleApp"}, True, False),
        ({"AppName": "EXAMPLEAPP"}, False, False),
    ]:
        assert (decide(loose, ALICE, "kms:Decrypt", context) is Decision.ALLOW) is loose_ok
        assert (decide(strict, ALICE, "kms:Decrypt", context) is Decision.ALLOW) is strict_ok


def test_require_pairs_and_forbid_all_others() -> None:
    p = allow_if(
        {
            "StringEquals": {"kms:EncryptionContext:Department": "IT", "kms:EncryptionContext:Project": "Alpha"},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]},
        }
    )
    assert decide(p, ALICE, "kms:GenerateDataKey", {"Department": "IT", "Project": "Alpha"}) is Decision.ALLOW
    for context in [None, {"Department": "IT"}, {"Department": "IT", "Project": "Alpha", "Stage": "Test"}]:
        assert decide(p, ALICE, "kms:GenerateDataKey", context) is Decision.IMPLICIT_DENY, context


def test_forbid_context_values_with_deny() -> None:
    p = policy(
        {"Effect": "Allow", "Principal": {"AWS": APP_ROLE}, "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": {"AWS": APP_ROLE},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:Stage": ["Restricted", "Production"]}},
        },
    )
    assert decide(p, APP_SESSION, "kms:GenerateDataKey", {"Stage": "Test"}) is Decision.ALLOW
    assert decide(p, APP_SESSION, "kms:GenerateDataKey", None) is Decision.ALLOW
    assert decide(p, APP_SESSION, "kms:GenerateDataKey", {"Stage": "Restricted"}) is Decision.EXPLICIT_DENY
    assert decide(p, APP_SESSION, "kms:GenerateDataKey", {"stage": "Production", "x": "y"}) is Decision.EXPLICIT_DENY
    assert decide(p, APP_SESSION, "kms:Decrypt", {"Stage": "Restricted"}) is Decision.ALLOW


def test_one_pair_or_another_takes_two_statements() -> None:
    def one(key: str, value: str) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Principal": {"AWS": APP_ROLE},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {"StringEquals": {f"kms:EncryptionContext:{key}": value}},
        }

    p = policy(one("Department", "IT"), one("Project", "Alpha"))
    for context, ok in [({"Department": "IT"}, True), ({"Project": "Alpha"}, True), ({"Project": "Beta"}, False)]:
        assert (decide(p, APP_SESSION, "kms:GenerateDataKey", context) is Decision.ALLOW) is ok


def test_context_keys_for_any_value_and_null() -> None:
    any_app = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}}
    assert holds(any_app, encryption_context={"AppName": "Helper", "Project": "Alpha"})
    assert not holds(any_app, encryption_context={"Project": "Alpha"})
    assert not holds(any_app, encryption_context=None)
    ignore_case = {"ForAnyValue:StringEqualsIgnoreCase": {"kms:EncryptionContextKeys": "appname"}}
    assert holds(ignore_case, encryption_context={"AppName": "x"})
    some_context = {"Null": {"kms:EncryptionContextKeys": False}}
    assert holds(some_context, encryption_context={"any": "thing"})
    assert not holds(some_context, encryption_context={})
    assert not holds(some_context, encryption_context=None)
    assert holds({"Null": {"kms:EncryptionContextKeys": "true"}}, encryption_context={})


def test_all_identities_of_an_account_through_amazon_ebs() -> None:
    """The AWS managed key for EBS: Principal "*", kms:CallerAccount and kms:ViaService."""
    p = policy(
        {
            "Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Condition": {
                "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.us-west-2.amazonaws.com"}
            },
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"],
            "Resource": "*",
        }
    )
    via_ebs = {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}
    assert decide(p, ALICE, "kms:ReEncryptFrom", extra=via_ebs) is Decision.ALLOW
    assert decide(p, APP_SESSION, "kms:Decrypt", extra=via_ebs) is Decision.ALLOW
    assert decide(p, ALICE, "kms:Decrypt") is Decision.IMPLICIT_DENY  # not through EBS
    assert decide(p, f"arn:aws:iam::{OTHER}:user/Mallory", "kms:Decrypt", extra=via_ebs) is Decision.IMPLICIT_DENY


def test_lockout_bypass_condition_keys() -> None:
    deny_bypass = policy(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:CreateKey", "kms:PutKeyPolicy"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": True}},
        },
    )
    bypass = {"kms:BypassPolicyLockoutSafetyCheck": True}
    assert decide(deny_bypass, ALICE, "kms:PutKeyPolicy", extra=bypass) is Decision.EXPLICIT_DENY
    assert decide(deny_bypass, ALICE, "kms:PutKeyPolicy", extra={"kms:BypassPolicyLockoutSafetyCheck": "false"}) is (
        Decision.ALLOW
    )
    assert decide(deny_bypass, ALICE, "kms:PutKeyPolicy") is Decision.ALLOW
    only_without = allow_if({"Null": {"kms:BypassPolicyLockoutSafetyCheck": True}})
    assert decide(only_without, ALICE, "kms:PutKeyPolicy") is Decision.ALLOW
    assert decide(only_without, ALICE, "kms:PutKeyPolicy", extra=bypass) is Decision.IMPLICIT_DENY


def test_one_encryption_algorithm_with_a_double_negative() -> None:
    p = policy(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": {"AWS": ALICE},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}},
        },
    )
    assert decide(p, ALICE, "kms:Encrypt", extra={"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}) is Decision.ALLOW
    assert decide(p, ALICE, "kms:Encrypt", extra={"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}) is (
        Decision.EXPLICIT_DENY
    )
    assert decide(p, ALICE, "kms:Encrypt") is Decision.EXPLICIT_DENY  # an absent key satisfies a negated operator


def test_the_user_name_variable_in_a_context_condition() -> None:
    team = {"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert holds(team, principal=bob, encryption_context={"user": "bob"})
    assert not holds(team, principal=bob, encryption_context={"user": "alice"})
    assert not holds(team, principal=APP_SESSION, encryption_context={"user": "bob"})  # a session has no user name
    assert not holds(team, principal=bob, encryption_context={"user": "${aws:username}"})
    assert holds(team, version="2008-10-17", principal=bob, encryption_context={"user": "${aws:username}"})


# --- operators --------------------------------------------------------------------------------------

SPEC = "kms:KeySpec"
# (condition, the kms:KeySpec value the request carries or None for absent, holds?)
STRING_CASES: list[tuple[dict[str, Any], str | None, bool]] = [
    ({"StringEquals": {SPEC: "SYMMETRIC_DEFAULT"}}, "SYMMETRIC_DEFAULT", True),
    ({"StringEquals": {SPEC: "SYMMETRIC_DEFAULT"}}, "symmetric_default", False),
    ({"StringEquals": {SPEC: ["RSA_2048", "SYMMETRIC_DEFAULT"]}}, "SYMMETRIC_DEFAULT", True),
    ({"StringEquals": {SPEC: "SYMMETRIC_DEFAULT"}}, None, False),
    ({"StringEquals": {SPEC: "RSA_*"}}, "RSA_2048", False),
    ({"StringNotEquals": {SPEC: "RSA_2048"}}, "SYMMETRIC_DEFAULT", True),
    ({"StringNotEquals": {SPEC: ["RSA_2048", "SYMMETRIC_DEFAULT"]}}, "SYMMETRIC_DEFAULT", False),
    ({"StringNotEquals": {SPEC: "RSA_2048"}}, None, True),
    ({"StringEqualsIgnoreCase": {SPEC: "symmetric_DEFAULT"}}, "SYMMETRIC_default", True),
    ({"StringEqualsIgnoreCase": {SPEC: "RSA_2048"}}, "SYMMETRIC_DEFAULT", False),
    ({"StringNotEqualsIgnoreCase": {SPEC: "symmetric_default"}}, "SYMMETRIC_DEFAULT", False),
    ({"StringNotEqualsIgnoreCase": {SPEC: "rsa_2048"}}, None, True),
    ({"StringLike": {SPEC: "RSA_*"}}, "RSA_4096", True),
    ({"StringLike": {SPEC: "RSA_????"}}, "RSA_4096", True),
    ({"StringLike": {SPEC: "RSA_???"}}, "RSA_4096", False),
    ({"StringLike": {SPEC: "rsa_*"}}, "RSA_4096", False),
    ({"StringLike": {SPEC: ["ECC_*", "RSA_*"]}}, "ECC_NIST_P256", True),
    ({"StringLike": {SPEC: "*"}}, "", True),
    ({"StringLike": {SPEC: "RSA.*"}}, "RSA_4096", False),
    ({"StringLike": {SPEC: "RSA_*"}}, None, False),
    ({"StringNotLike": {SPEC: "RSA_*"}}, "SYMMETRIC_DEFAULT", True),
    ({"StringNotLike": {SPEC: ["RSA_*", "SYM*"]}}, "SYMMETRIC_DEFAULT", False),
    ({"StringNotLike": {SPEC: "RSA_*"}}, None, True),
    ({"StringEqualsIfExists": {SPEC: "SYMMETRIC_DEFAULT"}}, None, True),
    ({"StringEqualsIfExists": {SPEC: "SYMMETRIC_DEFAULT"}}, "RSA_2048", False),
    ({"StringNotLikeIfExists": {SPEC: "RSA_*"}}, "RSA_2048", False),
    ({"Null": {SPEC: "true"}}, None, True),
    ({"Null": {SPEC: "true"}}, "RSA_2048", False),
    ({"Null": {SPEC: "false"}}, "RSA_2048", True),
    ({"Null": {SPEC: "false"}}, None, False),
    ({"Null": {SPEC: ["true", "false"]}}, None, True),
    ({"ForAnyValue:StringEquals": {SPEC: "RSA_2048"}}, None, False),
    ({"ForAllValues:StringEquals": {SPEC: "RSA_2048"}}, None, True),
    ({"ForAnyValue:StringNotEquals": {SPEC: "RSA_2048"}}, None, False),
    ({"ForAllValues:StringNotEquals": {SPEC: "RSA_2048"}}, None, True),
    ({"ForAnyValue:StringEqualsIfExists": {SPEC: "RSA_2048"}}, None, True),
    ({"stringequals": {"KMS:KEYSPEC": "RSA_2048"}}, "RSA_2048", True),  # names are case-insensitive
    ({"StringEquals": {SPEC: "RSA_2048", "kms:KeyUsage": "SIGN_VERIFY"}}, "RSA_2048", False),  # keys: AND
    ({"StringEquals": {SPEC: 2048}}, "2048", True),  # numbers and booleans in the policy are their text
]


@pytest.mark.parametrize(("condition", "value", "expected"), STRING_CASES)
def test_string_and_null_operators(condition: dict[str, Any], value: str | None, expected: bool) -> None:
    extra = {} if value is None else {SPEC: value}
    assert holds(condition, extra=extra) is expected


def test_several_operators_must_all_hold() -> None:
    condition = {"StringEquals": {"kms:CallerAccount": ACCOUNT}, "StringLike": {"aws:PrincipalArn": "*:user/A*"}}
    assert holds(condition)
    assert not holds(condition, principal=f"arn:aws:iam::{ACCOUNT}:user/Bob")
    assert not holds(condition, account=OTHER)


# (request values for a multivalued key, condition, holds?)
SET_CASES: list[tuple[list[str] | None, dict[str, Any], bool]] = [
    (["Decrypt", "Encrypt"], {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}}, True),
    (["Decrypt", "Sign"], {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}}, False),
    (None, {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt"]}}, True),
    (["Decrypt", "Sign"], {"ForAnyValue:StringEquals": {"kms:GrantOperations": ["Sign"]}}, True),
    (["Decrypt"], {"ForAnyValue:StringEquals": {"kms:GrantOperations": ["Sign"]}}, False),
    (None, {"ForAnyValue:StringEquals": {"kms:GrantOperations": ["Sign"]}}, False),
    (["Decrypt", "Sign"], {"ForAllValues:StringNotEquals": {"kms:GrantOperations": ["Sign"]}}, False),
    (["Decrypt", "Encrypt"], {"ForAllValues:StringNotEquals": {"kms:GrantOperations": ["Sign"]}}, True),
    (["Decrypt", "Sign"], {"ForAnyValue:StringNotEquals": {"kms:GrantOperations": ["Sign"]}}, True),
    (["Sign"], {"ForAnyValue:StringNotEquals": {"kms:GrantOperations": ["Sign"]}}, False),
    (
        ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"],
        {"ForAllValues:StringLike": {"kms:GrantOperations": "GenerateDataKey*"}},
        True,
    ),
    (["Decrypt", "Sign"], {"StringEquals": {"kms:GrantOperations": "Sign"}}, True),  # plain operator: any value
    (["Decrypt", "Sign"], {"StringNotEquals": {"kms:GrantOperations": "Sign"}}, False),  # ...negated: none
    ([], {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt"]}}, True),  # empty is absent
    ([], {"Null": {"kms:GrantOperations": "true"}}, True),
]


@pytest.mark.parametrize(("values", "condition", "expected"), SET_CASES)
def test_set_qualifiers_on_a_multivalued_key(
    values: list[str] | None, condition: dict[str, Any], expected: bool
) -> None:
    extra = {} if values is None else {"kms:GrantOperations": values}
    assert holds(condition, action="kms:CreateGrant", extra=extra) is expected


# (condition, request fields, holds?)
TYPED_CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({"NumericEquals": {"kms:X": "10"}}, {"extra": {"kms:X": 10}}, True),
    ({"NumericEquals": {"kms:X": 10}}, {"extra": {"kms:X": "10.0"}}, True),
    ({"NumericNotEquals": {"kms:X": 10}}, {"extra": {"kms:X": "11"}}, True),
    ({"NumericLessThan": {"kms:X": 10}}, {"extra": {"kms:X": "9.5"}}, True),
    ({"NumericLessThan": {"kms:X": 10}}, {"extra": {"kms:X": "10"}}, False),
    ({"NumericLessThanEquals": {"kms:X": 10}}, {"extra": {"kms:X": "10"}}, True),
    ({"NumericGreaterThan": {"kms:X": 10}}, {"extra": {"kms:X": "10"}}, False),
    ({"NumericGreaterThanEquals": {"kms:X": 10}}, {"extra": {"kms:X": "10"}}, True),
    ({"NumericGreaterThan": {"kms:X": 10}}, {"extra": {"kms:X": "many"}}, False),
    ({"NumericLessThan": {"kms:X": 10}}, {}, False),
    ({"DateLessThan": {"aws:CurrentTime": "2026-06-01T12:00:01Z"}}, {"current_time": NOON}, True),
    ({"DateLessThan": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}, {"current_time": NOON}, False),
    ({"DateLessThanEquals": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}, {"current_time": NOON}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2026-06-01"}}, {"current_time": NOON}, True),
    ({"DateGreaterThanEquals": {"aws:CurrentTime": "2026-06-01T14:00:00+02:00"}}, {"current_time": NOON}, True),
    ({"DateEquals": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}, {"current_time": NOON}, True),
    ({"DateNotEquals": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}, {"current_time": NOON}, False),
    ({"DateEquals": {"aws:EpochTime": int(NOON.timestamp())}}, {"current_time": NOON}, True),
    ({"DateLessThan": {"aws:CurrentTime": int(NOON.timestamp()) + 1}}, {"current_time": NOON}, True),
    ({"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}, {}, False),  # the wall clock by default
    ({"DateGreaterThan": {"aws:CurrentTime": "not a date"}}, {"current_time": NOON}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"secure_transport": True}, True),
    ({"Bool": {"aws:SecureTransport": True}}, {"secure_transport": False}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {}, False),
    ({"BoolIfExists": {"aws:SecureTransport": "false"}}, {}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "203.0.113.7"}, True),
    ({"IpAddress": {"aws:SourceIp": ["198.51.100.1", "203.0.113.0/24"]}}, {"source_ip": "198.51.100.1"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "198.51.100.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"source_ip": "2001:db8::1"}, True),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {"source_ip": "::1"}, False),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {"source_ip": "not-an-address"}, False),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "198.51.100.1"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, True),
    ({"IpAddress": {"aws:SourceIp": "127.0.0.1"}}, {}, False),
    ({"BinaryEquals": {"kms:Blob": "QmluYXJ5"}}, {"extra": {"kms:Blob": "QmluYXJ5"}}, True),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}}, {"principal": APP_SESSION}, True),
    ({"ArnEquals": {"aws:PrincipalArn": APP_ROLE}}, {"principal": APP_SESSION}, True),  # a session reports its role
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}, {"principal": APP_SESSION}, False),
    ({"ArnLike": {"kms:X": "arn:aws:logs:us-east-1:*:group"}}, {"extra": {"kms:X": LOG_GROUP}}, False),  # * stays in
    ({"ArnLike": {"kms:X": "arn:aws:logs:us-east-1:*:*:group"}}, {"extra": {"kms:X": LOG_GROUP}}, True),  # its part
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:*"}}, {}, True),
    ({"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}}, {}, True),
    ({"ArnNotEquals": {"aws:PrincipalArn": ALICE}}, {}, False),
    ({"StringEquals": {"aws:PrincipalType": "User"}}, {}, True),
    ({"StringEquals": {"aws:PrincipalType": "AssumedRole"}}, {"principal": APP_SESSION}, True),
    ({"StringEquals": {"aws:PrincipalType": "Account"}}, {"principal": f"arn:aws:iam::{ACCOUNT}:root"}, True),
    ({"StringEquals": {"aws:username": "Alice"}}, {}, True),
    ({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}, {}, True),
    ({"StringEquals": {"kms:CallerAccount": ACCOUNT}}, {"account": OTHER}, False),
    ({"StringEquals": {"aws:RequestedRegion": "us-west-2"}}, {}, False),  # unknown to the request: absent
    ({"StringNotEquals": {"kms:NoSuchKey": "x"}}, {}, True),
    ({"Null": {"kms:NoSuchKey": "true"}}, {}, True),
]


@pytest.mark.parametrize(("condition", "request_fields", "expected"), TYPED_CASES)
def test_typed_operators_and_global_keys(
    condition: dict[str, Any], request_fields: dict[str, Any], expected: bool
) -> None:
    assert holds(condition, **request_fields) is expected


# (condition, request fields, holds?)
VARIABLE_CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    (
        {"StringLike": {"kms:EncryptionContext:path": "home/${aws:username}/*"}},
        {"encryption_context": {"path": "home/Alice/notes"}},
        True,
    ),
    (
        {"StringLike": {"kms:EncryptionContext:path": "home/${aws:username}/*"}},
        {"encryption_context": {"path": "home/Bob/notes"}},
        False,
    ),
    (
        {"StringEquals": {"kms:EncryptionContext:owner": "${aws:username, 'nobody'}"}},
        {"principal": APP_SESSION, "encryption_context": {"owner": "nobody"}},
        True,
    ),
    (
        {"StringEquals": {"kms:EncryptionContext:note": "it''s ${aws:username, 'it''s'}"}},
        {"principal": APP_SESSION, "encryption_context": {"note": "it''s it's"}},
        True,
    ),
    ({"StringLike": {"kms:EncryptionContext:glob": "a${*}b"}}, {"encryption_context": {"glob": "a*b"}}, True),
    ({"StringLike": {"kms:EncryptionContext:glob": "a${*}b"}}, {"encryption_context": {"glob": "axxb"}}, False),
    ({"StringLike": {"kms:EncryptionContext:glob": "${?}${$}"}}, {"encryption_context": {"glob": "?$"}}, True),
    (
        {"StringEquals": {"kms:EncryptionContext:acct": "${kms:CallerAccount}"}},
        {"encryption_context": {"acct": ACCOUNT}},
        True,
    ),
    (
        {"StringEquals": {"kms:EncryptionContext:keys": "${kms:EncryptionContextKeys}"}},
        {"encryption_context": {"keys": "keys"}},
        False,
    ),  # a multivalued key is not a variable
    ({"StringEquals": {"kms:EncryptionContext:x": "${not a variable}"}}, {"encryption_context": {"x": "y"}}, False),
    (
        {"StringNotEquals": {"kms:EncryptionContext:x": "${aws:username}"}},
        {"principal": APP_SESSION, "encryption_context": {"x": "y"}},
        True,
    ),
    (
        {"StringEqualsIgnoreCase": {"kms:EncryptionContext:who": "${aws:username}"}},
        {"encryption_context": {"who": "ALICE"}},
        True,
    ),
    (
        {"StringEqualsIgnoreCase": {"kms:EncryptionContext:who": "${aws:username}"}},
        {"principal": APP_SESSION, "encryption_context": {"who": "ALICE"}},
        False,
    ),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:user/*"}}, {}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${kms:NoSuchKey}:user/*"}}, {}, False),
]


@pytest.mark.parametrize(("condition", "request_fields", "expected"), VARIABLE_CASES)
def test_policy_variables(condition: dict[str, Any], request_fields: dict[str, Any], expected: bool) -> None:
    assert holds(condition, **request_fields) is expected


def test_variables_in_resource() -> None:
    p = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "arn:aws:kms:*:${aws:PrincipalAccount}:key/*",
        }
    )
    assert decide(p, ALICE, "kms:Decrypt") is Decision.ALLOW
    assert decide(p, f"arn:aws:iam::{OTHER}:user/Mallory", "kms:Decrypt") is Decision.IMPLICIT_DENY
    literal = policy(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "arn:aws:kms:*:${aws:PrincipalAccount}:*"},
        version="2008-10-17",
    )
    assert decide(literal, ALICE, "kms:Decrypt") is Decision.IMPLICIT_DENY


def test_context_keys_that_differ_only_by_case_all_count() -> None:
    """AWS advises against such contexts; the condition key then has each of their values."""
    context = {"Stage": "Test", "stage": "Restricted"}
    assert holds({"StringEquals": {"kms:EncryptionContext:STAGE": "Restricted"}}, encryption_context=context)
    assert not holds({"StringNotEquals": {"kms:EncryptionContext:stage": "Restricted"}}, encryption_context=context)
