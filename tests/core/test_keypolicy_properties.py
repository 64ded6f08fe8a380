"""Properties of the policy engine that must hold for any policy and request (hypothesis)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.keypolicy import (
    Decision,
    GrantConstraints,
    MalformedPolicy,
    PolicyRequest,
    evaluate,
    grant_allows,
    grant_allows_child,
    parse,
)
from gateway.core.keypolicy.patterns import glob_regex

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACCOUNTS = ["111122223333", "444455556666"]
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:PutKeyPolicy", "kms:DescribeKey"]
CALLERS = [f"arn:aws:iam::{a}:{r}" for a in ACCOUNTS for r in ("root", "user/Alice", "user/Bob", "role/App")] + [
    f"arn:aws:sts::{a}:assumed-role/App/s" for a in ACCOUNTS
]

principals = st.sampled_from(
    ["*", {"AWS": "*"}, *({"AWS": a} for a in ACCOUNTS), *({"AWS": c} for c in CALLERS if ":sts:" not in c)]
)
action_patterns = st.sampled_from([*ACTIONS, "kms:*", "*", "kms:Generate*", "kms:*crypt", "KMS:DECRYPT"])
context_keys = st.sampled_from(["AppName", "Stage", "appname"])
context_values = st.sampled_from(["A", "a", "Restricted", "Test"])
contexts = st.none() | st.dictionaries(context_keys, context_values, max_size=3)
conditions = st.one_of(
    st.none(),
    st.builds(
        lambda op, k, v: {op: {f"kms:EncryptionContext:{k}": v}},
        st.sampled_from(
            ["StringEquals", "StringNotEquals", "StringLike", "StringEqualsIgnoreCase", "StringEqualsIfExists"]
        ),
        context_keys,
        context_values,
    ),
    st.builds(
        lambda op, v: {op: {"kms:EncryptionContextKeys": v}},
        st.sampled_from(["ForAnyValue:StringEquals", "ForAllValues:StringEquals"]),
        st.sampled_from(["AppName", "Stage"]),
    ),
    st.builds(lambda v: {"Null": {"kms:EncryptionContextKeys": v}}, st.booleans()),
    st.builds(lambda a: {"StringEquals": {"kms:CallerAccount": a}}, st.sampled_from(ACCOUNTS)),
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        "Principal": draw(principals),
        draw(st.sampled_from(["Action", "NotAction"])): draw(st.lists(action_patterns, min_size=1, max_size=3)),
        "Resource": draw(st.sampled_from(["*", KEY, "arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:*:*:key/other"])),
    }
    condition = draw(conditions)
    if condition is not None:
        out["Condition"] = condition
    return out


@st.composite
def requests(draw: st.DrawFn) -> PolicyRequest:
    caller = draw(st.sampled_from(CALLERS))
    return PolicyRequest(caller, caller.split(":")[4], draw(st.sampled_from(ACTIONS)), KEY, draw(contexts))


def text(stmts: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": stmts})


@FAST
@given(st.lists(statements(), min_size=1, max_size=6), requests(), st.randoms())
def test_order_of_statements_does_not_matter(stmts: list[dict[str, Any]], request: PolicyRequest, rnd: Any) -> None:
    shuffled = list(stmts)
    rnd.shuffle(shuffled)
    first, second = evaluate(parse(text(stmts)), request), evaluate(parse(text(shuffled)), request)
    assert first.decision is second.decision
    assert first.via_account_root == second.via_account_root


@FAST
@given(st.lists(statements(), min_size=1, max_size=6), requests())
def test_a_matching_deny_always_wins(stmts: list[dict[str, Any]], request: PolicyRequest) -> None:
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    assert evaluate(parse(text([*stmts, deny_all])), request).decision is Decision.EXPLICIT_DENY
    # ...and adding Allow statements never undoes a Deny.
    before = evaluate(parse(text(stmts)), request)
    allow_all = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    after = evaluate(parse(text([*stmts, allow_all])), request)
    if before.decision is Decision.EXPLICIT_DENY:
        assert after.decision is Decision.EXPLICIT_DENY
    else:
        assert after.decision is Decision.ALLOW


@FAST
@given(st.lists(statements(effect="Allow"), min_size=1, max_size=6), requests())
def test_allow_only_policies_never_deny_explicitly(stmts: list[dict[str, Any]], request: PolicyRequest) -> None:
    got = evaluate(parse(text(stmts)), request)
    assert got.decision is not Decision.EXPLICIT_DENY
    assert got.decision is Decision.IMPLICIT_DENY or got.allowed
    if not got.allowed:
        assert not got.via_account_root and not got.identity_check_required


@FAST
@given(st.lists(statements(), min_size=1, max_size=6), requests())
def test_action_case_does_not_matter(stmts: list[dict[str, Any]], request: PolicyRequest) -> None:
    policy = parse(text(stmts))
    shouted = PolicyRequest(
        request.principal_arn,
        request.account_id,
        request.action.upper(),
        request.resource_arn,
        request.encryption_context,
    )
    assert evaluate(policy, request) == evaluate(policy, shouted)


@FAST
@given(st.text(max_size=300))
def test_parse_refuses_garbage_only_with_malformed_policy(garbage: str) -> None:
    try:
        parse(garbage)
    except MalformedPolicy:
        pass


@FAST
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "Version",
                        "Statement",
                        "Effect",
                        "Principal",
                        "AWS",
                        "Action",
                        "Resource",
                        "Condition",
                        "StringEquals",
                        "Null",
                        "kms:CallerAccount",
                        "Sid",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_parse_refuses_wrong_shapes_only_with_malformed_policy(document: Any) -> None:
    try:
        parse(json.dumps(document))
    except MalformedPolicy:
        pass


def reference_glob(pattern: str, value: str) -> bool:
    """A slow, obviously right wildcard matcher to check the compiled one against."""
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(reference_glob(rest, value[i:]) for i in range(len(value) + 1))
    return bool(value) and (head == "?" or head == value[0]) and reference_glob(rest, value[1:])


def reference_arn(pattern: str, value: str) -> bool:
    """ARNs part by part: the first five parts hold no colon, the sixth takes the rest."""
    parts, values = pattern.split(":", 5), value.split(":", 5)
    return len(values) == 6 and all(reference_glob(p, v) for p, v in zip(parts, values, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*?.:", max_size=10), st.text(alphabet="ab.:", max_size=10))
def test_wildcards_match_like_the_reference(pattern: str, value: str) -> None:
    assert (re.fullmatch(glob_regex(pattern), value, re.DOTALL) is not None) is reference_glob(pattern, value)


head_patterns = st.lists(st.text(alphabet="ab*?", max_size=4), min_size=4, max_size=4)
head_values = st.lists(st.text(alphabet="ab", max_size=4), min_size=4, max_size=4)


@settings(max_examples=300, deadline=None)
@given(head_patterns, st.text(alphabet="ab*?:", max_size=8), head_values, st.text(alphabet="ab:", max_size=8))
def test_arn_wildcards_match_like_the_reference(heads: list[str], tail: str, parts: list[str], rest: str) -> None:
    pattern, value = ":".join(["arn", *heads, tail]), ":".join(["arn", *parts, rest])
    assert (re.fullmatch(glob_regex(pattern, arn=True), value, re.DOTALL) is not None) is reference_arn(pattern, value)


def test_hostile_patterns_do_not_backtrack() -> None:
    """A key owner writes the patterns: none may stall evaluation (naively compiled, these take hours)."""
    started = time.perf_counter()
    stars = "kms:" + "*?" * 40 + "Z"
    hostile = parse(text([{"Effect": "Allow", "Principal": "*", "Action": stars, "Resource": "*",
                           "Condition": {"StringLike": {"kms:EncryptionContext:k": "*a" * 200 + "*b"}}}]))  # fmt: skip
    request = PolicyRequest(CALLERS[1], ACCOUNTS[0], "kms:GenerateDataKeyPairWithoutPlaintext", KEY, {"k": "a" * 4000})
    assert evaluate(hostile, request).decision is Decision.IMPLICIT_DENY
    like = parse(text([{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
                        "Condition": {"StringLike": {"kms:EncryptionContext:k": "*a" * 200 + "*b"}}}]))  # fmt: skip
    assert evaluate(like, request).decision is Decision.IMPLICIT_DENY
    assert time.perf_counter() - started < 1.0


pairs = st.dictionaries(st.sampled_from(["a", "A", "b", "c"]), st.sampled_from(["1", "2"]), max_size=3)
constraints = st.builds(GrantConstraints, st.none() | pairs, st.none() | pairs)


@FAST
@given(pairs, pairs | st.none())
def test_equals_is_stricter_than_subset(required: dict[str, str], context: dict[str, str] | None) -> None:
    if grant_allows(["Decrypt"], GrantConstraints(encryption_context_equals=required), "Decrypt", context):
        assert grant_allows(["Decrypt"], GrantConstraints(encryption_context_subset=required), "Decrypt", context)


@FAST
@given(constraints, constraints, st.lists(pairs | st.none(), max_size=6))
def test_an_accepted_child_grant_never_allows_more_than_its_parent(
    parent: GrantConstraints, child: GrantConstraints, contexts: list[dict[str, str] | None]
) -> None:
    ops = ["Decrypt", "CreateGrant"]
    if not grant_allows_child(ops, parent, ["Decrypt"], child):
        return
    candidates = [*contexts, *(c for c in (child.encryption_context_equals, child.encryption_context_subset) if c)]
    for context in candidates:
        if grant_allows(["Decrypt"], child, "Decrypt", context):
            assert grant_allows(["Decrypt"], parent, "Decrypt", context)
