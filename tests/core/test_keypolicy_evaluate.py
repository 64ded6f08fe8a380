"""Evaluating key policies: who a statement names, actions, resources, Deny over Allow, lock-out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.core.keypolicy import (
    Decision,
    Denial,
    Evaluation,
    MalformedPolicy,
    Policy,
    PolicyRequest,
    check_lockout,
    default_policy,
    denied_message,
    evaluate,
    parse,
)
from gateway.core.keypolicy.errors import LOCKOUT

ACCOUNT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09ba-87dc-65fe-0987654321ba"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/Alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/Bob"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ExampleRole/alice-session"
STRANGER = f"arn:aws:iam::{OTHER}:user/Mallory"

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "kms:Encrypt", "Resource": "*"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def policy(*statements: dict[str, Any]) -> Policy:
    return parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def ask(
    p: Policy, principal: str = ALICE, action: str = "kms:Encrypt", resource: str | None = KEY, **more: Any
) -> Evaluation:
    account = principal.split(":")[4]
    return evaluate(p, PolicyRequest(principal, account, action, resource, **more))


DEFAULT = parse(default_policy(ACCOUNT))


@pytest.mark.parametrize(
    ("principal", "decision", "via_root", "cross"),
    [
        (ALICE, ALLOW, True, False),  # a user of the account: the account's permission list decides
        (SESSION, ALLOW, True, False),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/carol", ALLOW, True, False),
        (ROOT, ALLOW, False, False),  # the account principal includes the root user itself
        (STRANGER, IMPLICIT, False, False),
        (f"arn:aws:iam::{OTHER}:root", IMPLICIT, False, False),
    ],
)
def test_default_policy_delegates_to_the_account(
    principal: str, decision: Decision, via_root: bool, cross: bool
) -> None:
    for action in ("kms:Encrypt", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "KMS:decrypt"):
        got = ask(DEFAULT, principal, action)
        assert (got.decision, got.via_account_root, got.cross_account) == (decision, via_root, cross)
        assert got.identity_check_required == (decision is ALLOW and via_root)
    assert ask(DEFAULT, ALICE, "s3:GetObject").decision is IMPLICIT


PRINCIPAL_CASES: list[tuple[Any, str, Decision, bool]] = [
    # (Principal element, caller, decision, via_account_root)
    ({"AWS": ALICE}, ALICE, ALLOW, False),
    ({"AWS": ALICE}, BOB, IMPLICIT, False),
    ({"AWS": ALICE}, f"arn:aws:iam::{ACCOUNT}:user/alice", IMPLICIT, False),
    ({"AWS": [BOB, ALICE]}, ALICE, ALLOW, False),
    ({"AWS": ROLE}, ROLE, ALLOW, False),
    ({"AWS": ROLE}, SESSION, ALLOW, False),  # a role names its sessions
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/ExampleRole"}, SESSION, ALLOW, False),  # session ARNs drop the path
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/OtherRole"}, SESSION, IMPLICIT, False),
    ({"AWS": f"arn:aws:iam::{OTHER}:role/ExampleRole"}, SESSION, IMPLICIT, False),
    ({"AWS": SESSION}, SESSION, ALLOW, False),
    ({"AWS": SESSION}, f"arn:aws:sts::{ACCOUNT}:assumed-role/ExampleRole/other", IMPLICIT, False),
    ({"AWS": SESSION}, ROLE, IMPLICIT, False),
    ({"AWS": ACCOUNT}, ALICE, ALLOW, True),
    ({"AWS": ROOT}, SESSION, ALLOW, True),
    ({"AWS": ROOT}, ROOT, ALLOW, False),
    ({"AWS": ACCOUNT}, STRANGER, IMPLICIT, False),
    ("*", STRANGER, ALLOW, False),
    ({"AWS": "*"}, ALICE, ALLOW, False),
    ({"AWS": [ACCOUNT, ALICE]}, ALICE, ALLOW, False),  # a direct naming beats the account one
    ({"Service": "logs.us-east-1.amazonaws.com"}, ALICE, IMPLICIT, False),
    ({"Federated": "cognito-identity.amazonaws.com"}, ALICE, IMPLICIT, False),
]


@pytest.mark.parametrize(("principal_element", "caller", "decision", "via_root"), PRINCIPAL_CASES)
def test_principal_element(principal_element: Any, caller: str, decision: Decision, via_root: bool) -> None:
    got = ask(policy(statement(Principal=principal_element)), caller)
    assert got.decision is decision
    assert got.via_account_root is via_root


def test_callers_from_another_account_also_need_their_own_permission() -> None:
    p = policy(statement(Principal="*"), statement(Sid="theirs", Principal={"AWS": OTHER}, Action="kms:Decrypt"))
    assert ask(p, STRANGER) == Evaluation(ALLOW, via_account_root=False, cross_account=True)
    assert ask(p, STRANGER).identity_check_required
    assert ask(p, STRANGER, "kms:Decrypt") == Evaluation(ALLOW, True, True, "theirs")
    assert not ask(p, ALICE).cross_account
    assert not ask(p, ALICE).identity_check_required


ACTION_CASES: list[tuple[Any, str, bool]] = [
    ("kms:*", "kms:Encrypt", True),
    ("*", "kms:ListKeys", True),
    ("kms:Generate*", "kms:GenerateDataKey", True),
    ("kms:Generate*", "kms:GenerateDataKeyWithoutPlaintext", True),
    ("kms:Generate*", "kms:Encrypt", False),
    ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", False),
    ("kms:ReEncrypt*", "kms:ReEncryptFrom", True),
    ("kms:ReEncrypt*", "kms:ReEncryptTo", True),
    ("kms:?ecrypt", "kms:Decrypt", True),
    ("kms:?ecrypt", "kms:Encrypt", False),
    ("KMS:DECRYPT", "kms:Decrypt", True),  # action names are case-insensitive
    ("kms:decrypt", "KMS:Decrypt", True),
    ("kms:Decrypt", "kms:Decrypt2", False),
    ("s3:*", "kms:Decrypt", False),
    (["kms:Describe*", "kms:List*"], "kms:ListAliases", True),
    ("kms:Dec.ypt", "kms:Decrypt", False),  # regular-expression characters are literal
]


@pytest.mark.parametrize(("actions", "action", "covered"), ACTION_CASES)
def test_action_element(actions: Any, action: str, covered: bool) -> None:
    assert ask(policy(statement(Action=actions)), action=action).allowed is covered
    not_action = policy(statement(Action=None, NotAction=actions))
    assert ask(not_action, action=action).allowed is not covered


RESOURCE_CASES: list[tuple[Any, str | None, bool]] = [
    ("*", KEY, True),
    (KEY, KEY, True),
    (KEY, OTHER_KEY, False),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*", KEY, True),
    (f"arn:aws:kms:*:{ACCOUNT}:key/*", KEY, True),
    (f"arn:aws:kms:us-*:{ACCOUNT}:key/*", KEY, True),
    (f"arn:aws:kms:eu-*:{ACCOUNT}:key/*", KEY, False),
    (f"arn:aws:kms:*:{OTHER}:key/*", KEY, False),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/*", KEY, False),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-????-*", KEY, True),
    ([OTHER_KEY, KEY], KEY, True),
    ("arn:" + KEY[4:].upper(), KEY, False),  # ARNs are compared with their case
    (OTHER_KEY, None, True),  # no key yet (lock-out check): Resource is not looked at
]


@pytest.mark.parametrize(("resources", "resource", "covered"), RESOURCE_CASES)
def test_resource_element(resources: Any, resource: str | None, covered: bool) -> None:
    assert ask(policy(statement(Resource=resources)), resource=resource).allowed is covered
    if resource is not None:
        not_resource = policy(statement(Resource=None, NotResource=resources))
        assert ask(not_resource, resource=resource).allowed is not covered


def test_deny_beats_allow_whatever_the_order() -> None:
    allow = statement(Sid="allow", Action="kms:*")
    deny = statement(Sid="deny", Effect="Deny", Action="kms:Decrypt")
    for p in (policy(allow, deny), policy(deny, allow)):
        assert ask(p, action="kms:Decrypt") == Evaluation(EXPLICIT, statement_id="deny")
        assert ask(p, action="kms:Encrypt") == Evaluation(ALLOW, statement_id="allow")
    everyone = policy(allow, statement(Effect="Deny", Principal="*", Action="kms:Decrypt"))
    assert ask(everyone, action="kms:Decrypt").decision is EXPLICIT
    # A Deny naming the account refuses every identity of it, even one the policy names directly.
    account_deny = policy(allow, statement(Effect="Deny", Principal={"AWS": ACCOUNT}, Action="kms:Decrypt"))
    assert ask(account_deny, action="kms:Decrypt").decision is EXPLICIT
    assert ask(account_deny, STRANGER, action="kms:Decrypt").decision is IMPLICIT
    # A Deny that does not apply (other principal, other resource, unmet condition) leaves the Allow.
    for deny_elsewhere in (
        statement(Effect="Deny", Principal={"AWS": BOB}),
        statement(Effect="Deny", Resource=OTHER_KEY),
        statement(Effect="Deny", Condition={"StringEquals": {"kms:CallerAccount": OTHER}}),
    ):
        assert ask(policy(allow, deny_elsewhere)).decision is ALLOW


def test_account_allow_and_direct_allow_together() -> None:
    p = policy(statement(Sid="root", Principal={"AWS": ROOT}, Action="kms:*"), statement(Sid="alice"))
    assert ask(p) == Evaluation(ALLOW, statement_id="alice")
    assert ask(p, action="kms:Decrypt") == Evaluation(ALLOW, via_account_root=True, statement_id="root")
    assert ask(p, BOB) == Evaluation(ALLOW, via_account_root=True, statement_id="root")


def test_a_statement_without_sid_reports_none() -> None:
    assert ask(policy(statement())).statement_id is None
    assert ask(policy(statement(Effect="Deny"))) == Evaluation(EXPLICIT)


def test_denial_messages_have_aws_shape() -> None:
    allowed, explicit, implicit = Evaluation(ALLOW), Evaluation(EXPLICIT), Evaluation(IMPLICIT)
    assert allowed.denial is None
    assert explicit.denial is Denial.EXPLICIT_DENY_IN_RESOURCE_POLICY
    assert implicit.denial is Denial.NO_RESOURCE_POLICY_ALLOWS
    assert denied_message(SESSION, "kms:Decrypt", KEY) == (
        f"User: {SESSION} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no resource-based policy allows the kms:Decrypt action"
    )
    assert denied_message(ALICE, "kms:Encrypt", KEY, Denial.EXPLICIT_DENY_IN_RESOURCE_POLICY) == (
        f"User: {ALICE} is not authorized to perform: kms:Encrypt on resource: {KEY} "
        "with an explicit deny in a resource-based policy"
    )
    assert denied_message(ALICE, "kms:Sign", KEY, Denial.NO_IDENTITY_POLICY_ALLOWS).endswith(
        "because no identity-based policy allows the kms:Sign action"
    )
    assert denied_message(ALICE, "kms:Sign", KEY, Denial.EXPLICIT_DENY_IN_IDENTITY_POLICY).endswith(
        "with an explicit deny in an identity-based policy"
    )


def test_lockout_check_passes_policies_that_keep_put_key_policy() -> None:
    for caller in (ALICE, SESSION, ROOT):
        check_lockout(DEFAULT, caller, ACCOUNT)
        check_lockout(DEFAULT, caller, ACCOUNT, resource_arn=KEY)
    check_lockout(policy(statement(Principal={"AWS": ROLE}, Action="kms:Put*")), SESSION, ACCOUNT)
    check_lockout(policy(statement(Action="kms:*", Resource=KEY)), ALICE, ACCOUNT, resource_arn=KEY)
    # The Developer Guide's way to forbid the bypass (Null on kms:BypassPolicyLockoutSafetyCheck).
    no_bypass = statement(Action="kms:PutKeyPolicy", Condition={"Null": {"kms:BypassPolicyLockoutSafetyCheck": True}})
    check_lockout(policy(no_bypass), ALICE, ACCOUNT)


@pytest.mark.parametrize(
    ("statements", "caller", "resource"),
    [
        ([statement(Principal={"AWS": BOB}, Action="kms:*")], ALICE, None),
        ([statement(Action="kms:Encrypt")], ALICE, None),
        ([statement(Action="kms:*"), statement(Effect="Deny", Action="kms:PutKeyPolicy")], ALICE, None),
        ([statement(Principal={"AWS": ROOT}, Action="kms:*")], STRANGER, None),
        ([statement(Action="kms:*", Resource=OTHER_KEY)], ALICE, KEY),
        ([statement(Action="kms:*", Condition={"Bool": {"kms:GrantIsForAWSResource": True}})], ALICE, None),
    ],
)
def test_lockout_check_refuses_policies_that_lose_put_key_policy(
    statements: list[dict[str, Any]], caller: str, resource: str | None
) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        check_lockout(policy(*statements), caller, caller.split(":")[4], resource_arn=resource)
    assert str(caught.value) == LOCKOUT
    assert LOCKOUT == "The new key policy will not allow you to update the key policy in the future."


def test_lockout_check_sees_the_conditions_the_transport_passes() -> None:
    p = policy(statement(Action="kms:*", Condition={"StringEquals": {"kms:ViaService": "kms-console"}}))
    with pytest.raises(MalformedPolicy):
        check_lockout(p, ALICE, ACCOUNT)
    check_lockout(p, ALICE, ACCOUNT, extra={"kms:ViaService": "kms-console"})
