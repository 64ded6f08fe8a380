"""docs/aws-kms-policies.md says what the engine does: its operators, default policy and AWS's messages."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.core.keypolicy import default_policy
from gateway.core.keypolicy.conditions import _OPERATORS
from gateway.core.keypolicy.errors import INVALID_PRINCIPALS, LOCKOUT, NO_PRINCIPAL, OVERLY_PERMISSIVE_CONTEXT

DOC = (Path(__file__).resolve().parents[2] / "docs" / "aws-kms-policies.md").read_text()


def section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def test_the_operator_table_is_the_engines() -> None:
    table = [line for line in section("Conditions").splitlines() if line.startswith("| `")]
    named: set[str] = set()
    for row in table:
        for name in re.findall(r"`(\w+)`", row.split("|")[1]):
            named.add(name.lower())
        for stem, optional in re.findall(r"`(\w+)\[(\w+)\]`", row.split("|")[1]):
            named |= {stem.lower(), (stem + optional).lower()}
    assert named == set(_OPERATORS)


def test_the_default_policy_block_is_the_one_created() -> None:
    block = DOC.split("### The default key policy", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    assert block == default_policy("111122223333")


def test_aws_messages_are_quoted_as_raised() -> None:
    flat = " ".join(DOC.split())
    for message in (NO_PRINCIPAL, INVALID_PRINCIPALS, LOCKOUT):
        assert message in flat
    assert f"\n{OVERLY_PERMISSIVE_CONTEXT}\n" in DOC
