"""Grant constraints: listed operations, EncryptionContextSubset / EncryptionContextEquals, child grants."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.keypolicy import CONTEXT_OPERATIONS, GRANT_OPERATIONS, GrantConstraints, grant_allows
from gateway.core.keypolicy import grant_allows_child as child_ok

# The AWS KMS Developer Guide's example: a grant for GenerateDataKey and Decrypt with this subset.
FINANCE = {"Department": "Finance", "Classification": "Public"}
SUBSET = GrantConstraints(encryption_context_subset=FINANCE)
EQUALS = GrantConstraints(encryption_context_equals=FINANCE)
OPS = ["GenerateDataKey", "Decrypt", "DescribeKey", "RetireGrant"]

SUBSET_CASES: list[tuple[dict[str, str] | None, bool]] = [
    ({"Department": "Finance", "Classification": "Public"}, True),
    ({"Classification": "Public", "Department": "Finance"}, True),
    ({"Customer": "12345", "Department": "Finance", "Classification": "Public", "Purpose": "Test"}, True),
    ({"department": "Finance", "CLASSIFICATION": "Public"}, True),  # a constraint's keys ignore case
    ({"Department": "Finance"}, False),
    ({"department": "finance", "classification": "public"}, False),  # ...its values do not
    ({"Classification": "Public", "Customer": "12345"}, False),
    ({}, False),
    (None, False),
]


@pytest.mark.parametrize(("context", "allowed"), SUBSET_CASES)
def test_encryption_context_subset(context: dict[str, str] | None, allowed: bool) -> None:
    for operation in ("GenerateDataKey", "Decrypt"):
        assert grant_allows(OPS, SUBSET, operation, context) is allowed


EQUALS_CASES: list[tuple[dict[str, str] | None, bool]] = [
    ({"Department": "Finance", "Classification": "Public"}, True),
    ({"Classification": "Public", "Department": "Finance"}, True),
    ({"DEPARTMENT": "Finance", "classification": "Public"}, True),
    ({"Department": "Finance", "Classification": "Public", "Purpose": "Test"}, False),
    ({"Department": "Finance"}, False),
    ({"Department": "Finance", "Classification": "public"}, False),
    ({"Department": "Finance", "Classification": "Public", "department": "Finance"}, False),
    (None, False),
]


@pytest.mark.parametrize(("context", "allowed"), EQUALS_CASES)
def test_encryption_context_equals(context: dict[str, str] | None, allowed: bool) -> None:
    assert grant_allows(OPS, EQUALS, "Decrypt", context) is allowed


def test_operations_and_where_constraints_apply() -> None:
    assert grant_allows(OPS, None, "Decrypt", None)
    assert grant_allows(OPS, GrantConstraints(), "Decrypt", {"any": "thing"})
    assert not grant_allows(OPS, None, "Encrypt", FINANCE)
    assert not grant_allows(OPS, None, "decrypt", FINANCE)  # operation names are exact, as on the wire
    # DescribeKey and RetireGrant take no context: a constrained grant still allows them.
    assert grant_allows(OPS, EQUALS, "DescribeKey", None)
    assert grant_allows(OPS, SUBSET, "RetireGrant", None)
    assert grant_allows(["Sign", "Verify"], EQUALS, "Sign", None)
    assert grant_allows(["ReEncryptFrom"], SUBSET, "ReEncryptFrom", FINANCE)
    assert not grant_allows(["ReEncryptFrom"], SUBSET, "ReEncryptFrom", {})
    assert not grant_allows(["ReEncryptFrom"], SUBSET, "ReEncryptTo", FINANCE)
    assert GrantConstraints(encryption_context_equals={}).empty is False
    assert grant_allows(OPS, GrantConstraints(encryption_context_equals={}), "Decrypt", None)
    both = GrantConstraints(encryption_context_subset={"Department": "Finance"}, encryption_context_equals=FINANCE)
    assert grant_allows(OPS, both, "Decrypt", FINANCE)
    assert CONTEXT_OPERATIONS < GRANT_OPERATIONS
    assert {"DescribeKey", "RetireGrant", "CreateGrant", "Sign"}.isdisjoint(CONTEXT_OPERATIONS)


def test_from_wire_and_back() -> None:
    wire = {"EncryptionContextSubset": {"a": "1"}, "EncryptionContextEquals": {"b": "2"}}
    assert GrantConstraints.from_wire(wire).to_wire() == wire
    assert GrantConstraints.from_wire(None) == GrantConstraints()
    assert GrantConstraints.from_wire({}).empty
    assert GrantConstraints.from_wire({"EncryptionContextSubset": {"a": "1"}}).to_wire() == {
        "EncryptionContextSubset": {"a": "1"}
    }


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([], "must be an object"),
        ({"SourceArn": "arn:aws:s3:::bucket"}, "Unsupported grant constraint: SourceArn"),
        ({"EncryptionContextSubset": ["a"]}, "map strings to strings"),
        ({"EncryptionContextEquals": {"a": 1}}, "map strings to strings"),
        ({"EncryptionContextSubset": {str(i): "v" for i in range(9)}}, "at most 8"),
        ({"EncryptionContextEquals": {"a": "v" * 385}}, "384"),
    ],
)
def test_from_wire_refuses(wire: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GrantConstraints.from_wire(wire)


def sub(**pairs: str) -> GrantConstraints:
    return GrantConstraints(encryption_context_subset=pairs)


def eq(**pairs: str) -> GrantConstraints:
    return GrantConstraints(encryption_context_equals=pairs)


PARENT_OPS = ["Decrypt", "GenerateDataKey", "CreateGrant"]
CHILD_CASES: list[tuple[list[str], GrantConstraints | None, list[str], GrantConstraints | None, bool]] = [
    (PARENT_OPS, None, ["Decrypt"], None, True),
    (PARENT_OPS, None, ["Decrypt", "Encrypt"], None, False),  # no operation the parent lacks
    (["Decrypt"], None, ["Decrypt"], None, False),  # the parent grant must allow CreateGrant
    (PARENT_OPS, None, ["Decrypt"], eq(a="1"), True),
    (PARENT_OPS, sub(a="1"), ["Decrypt"], sub(a="1"), True),
    (PARENT_OPS, sub(a="1"), ["Decrypt"], sub(A="1", b="2"), True),  # add pairs to the subset
    (PARENT_OPS, sub(a="1", b="2"), ["Decrypt"], sub(a="1"), False),  # ...never remove one
    (PARENT_OPS, sub(a="1"), ["Decrypt"], sub(a="2"), False),
    (PARENT_OPS, sub(a="1"), ["Decrypt"], None, False),
    (PARENT_OPS, sub(a="1"), ["Decrypt"], eq(a="1", b="2"), True),  # subset -> equals
    (PARENT_OPS, sub(a="1"), ["Decrypt"], eq(b="2"), False),
    (PARENT_OPS, eq(a="1"), ["Decrypt"], eq(a="1"), True),
    (PARENT_OPS, eq(a="1"), ["Decrypt"], sub(a="1"), False),  # equals -> subset is looser
    (PARENT_OPS, eq(a="1"), ["Decrypt"], eq(a="1", b="2"), False),
    (PARENT_OPS, eq(a="1"), ["Decrypt"], None, False),
    (
        PARENT_OPS,
        eq(a="1"),
        ["Decrypt"],
        GrantConstraints(encryption_context_subset={"z": "9"}, encryption_context_equals={"a": "1"}),
        True,  # a child that allows no context at all is as strict as it gets
    ),
]


@pytest.mark.parametrize(("parent_ops", "parent", "child_ops", "child", "allowed"), CHILD_CASES)
def test_child_grants_are_equally_or_more_restrictive(
    parent_ops: list[str],
    parent: GrantConstraints | None,
    child_ops: list[str],
    child: GrantConstraints | None,
    allowed: bool,
) -> None:
    assert child_ok(parent_ops, parent, child_ops, child) is allowed
