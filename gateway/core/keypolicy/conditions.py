"""``Condition`` blocks, compiled once: operators, set qualifiers, ``...IfExists`` and ``Null``.

The rules, as the IAM policy reference states them:

* every operator of a block and every key under an operator must hold (AND); the values listed
  for one key are alternatives (OR) — for a negated operator (``StringNotEquals``...) the request
  value must match none of them (NOR);
* a key the request lacks makes the test false, except: negated operators are true,
  ``...IfExists`` is true, ``ForAllValues:`` is true, ``ForAnyValue:`` is false, and ``Null``
  tests exactly that (``"true"``: the key must be absent; ``"false"``: present);
* ``ForAnyValue:`` — some request value passes; ``ForAllValues:`` — every request value passes,
  where "passes" is "matches a policy value", or for a negated operator "matches none";
* a multivalued key under a plain operator passes when any value matches (negated: none does);
* ``ForAllValues:`` on ``kms:EncryptionContext:<key>`` is refused (AWS's OverlyPermissiveCondition).
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.core.keypolicy.context import RequestContext, Resolver, resolver
from gateway.core.keypolicy.errors import OVERLY_PERMISSIVE_CONTEXT, MalformedPolicy
from gateway.core.keypolicy.patterns import compile_any, full_match, glob_regex, is_arn_pattern, pieces_regex
from gateway.core.keypolicy.variables import Template, parse_template, resolve, resolved_text

Matcher = Callable[[str, RequestContext], bool]
"""True when one request value matches one of the policy's values for the key."""

PLAIN, ANY_VALUE, ALL_VALUES = 0, 1, 2
_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+:\S.*", re.DOTALL)
_EC_PREFIX = "kms:encryptioncontext:"

# operator (lower case) -> (family, negated)
_OPERATORS: dict[str, tuple[str, bool]] = {
    "stringequals": ("equals", False),
    "stringnotequals": ("equals", True),
    "stringequalsignorecase": ("equals-ci", False),
    "stringnotequalsignorecase": ("equals-ci", True),
    "stringlike": ("like", False),
    "stringnotlike": ("like", True),
    "numericequals": ("num-eq", False),
    "numericnotequals": ("num-eq", True),
    "numericlessthan": ("num-lt", False),
    "numericlessthanequals": ("num-le", False),
    "numericgreaterthan": ("num-gt", False),
    "numericgreaterthanequals": ("num-ge", False),
    "dateequals": ("date-eq", False),
    "datenotequals": ("date-eq", True),
    "datelessthan": ("date-lt", False),
    "datelessthanequals": ("date-le", False),
    "dategreaterthan": ("date-gt", False),
    "dategreaterthanequals": ("date-ge", False),
    "bool": ("bool", False),
    "binaryequals": ("equals", False),
    "ipaddress": ("ip", False),
    "notipaddress": ("ip", True),
    "arnequals": ("arn", False),
    "arnlike": ("arn", False),
    "arnnotequals": ("arn", True),
    "arnnotlike": ("arn", True),
    "null": ("null", False),
}
_COMPARE = {"eq": operator.eq, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


@dataclass(frozen=True, slots=True)
class ConditionTest:
    key: str
    """Lower-case condition key."""
    source: Resolver
    matcher: Matcher
    qualifier: int = PLAIN
    if_exists: bool = False
    negated: bool = False
    null_expects: frozenset[bool] | None = None
    """For ``Null``: the accepted answers to "is the key absent?"."""

    def holds(self, ctx: RequestContext) -> bool:
        values = self.source(ctx)
        if self.null_expects is not None:
            return (not values) in self.null_expects
        if not values:
            if self.if_exists or self.qualifier == ALL_VALUES:
                return True
            return False if self.qualifier == ANY_VALUE else self.negated
        match = self.matcher
        if self.qualifier == PLAIN:
            hit = match(values[0], ctx) if len(values) == 1 else any(match(v, ctx) for v in values)
            return not hit if self.negated else hit
        if self.negated:
            passes = (not match(v, ctx) for v in values)
        else:
            passes = (match(v, ctx) for v in values)
        return all(passes) if self.qualifier == ALL_VALUES else any(passes)


def parse_conditions(block: Any, *, variables: bool) -> tuple[ConditionTest, ...]:
    """Validate a statement's ``Condition`` and compile it (``variables``: Version 2012-10-17)."""
    if not isinstance(block, dict):
        raise MalformedPolicy("The Condition element must be a JSON object.")
    tests: list[ConditionTest] = []
    for name, entries in block.items():
        qualifier, family, negated, if_exists = _operator(name)
        if not isinstance(entries, dict) or not entries:
            raise MalformedPolicy(f"Condition operator {name} must map condition keys to values.")
        for key, raw in entries.items():
            if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
                raise MalformedPolicy(f"Condition key {key} must be prefaced by a vendor, e.g. kms: or aws:.")
            lowered = key.lower()
            if qualifier == ALL_VALUES and lowered.startswith(_EC_PREFIX):
                raise MalformedPolicy(OVERLY_PERMISSIVE_CONTEXT)
            values = _values(name, key, raw)
            if family == "null":
                expects = {_null_expect(name, v) for v in values}
                tests.append(ConditionTest(lowered, resolver(lowered), _never, null_expects=frozenset(expects)))
                continue
            matcher = _matcher(family, values, variables)
            tests.append(ConditionTest(lowered, resolver(lowered), matcher, qualifier, if_exists, negated))
    return tuple(tests)


def _operator(name: Any) -> tuple[int, str, bool, bool]:
    if not isinstance(name, str):
        raise MalformedPolicy("Condition operators must be strings.")
    rest = name.lower()
    qualifier = PLAIN
    for prefix, kind in (("foranyvalue:", ANY_VALUE), ("forallvalues:", ALL_VALUES)):
        if rest.startswith(prefix):
            rest, qualifier = rest[len(prefix) :], kind
    if_exists = rest.endswith("ifexists") and rest != "null"
    if if_exists:
        rest = rest[: -len("ifexists")]
    found = _OPERATORS.get(rest)
    if found is None or (if_exists and found[0] == "null"):
        raise MalformedPolicy(f"Policy has an invalid condition operator: {name}.")
    return qualifier, found[0], found[1], if_exists


def _values(name: str, key: str, raw: Any) -> list[str]:
    listed = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for v in listed:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, (str, int, float)):
            out.append(str(v))
        else:
            raise MalformedPolicy(f"Condition {name} on {key} has a value that is not a string, number or boolean.")
    return out


def _null_expect(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise MalformedPolicy(f"Condition {name} takes true or false.")
    return lowered == "true"


def _never(value: str, ctx: RequestContext) -> bool:
    return False


def _matcher(family: str, values: list[str], variables: bool) -> Matcher:
    if family in ("equals", "equals-ci", "like", "arn"):
        plain: list[str] = []
        templates: list[Template] = []
        for v in values:
            template = parse_template(v) if variables else None
            if template is None:
                plain.append(v)
            else:
                templates.append(template)
        return _string_matcher(family, plain, tuple(templates))
    if family == "bool":
        accepted = frozenset(v.lower() for v in values)
        return lambda value, ctx: value.lower() in accepted
    if family == "ip":
        return _ip_matcher(values)
    kind, _, how = family.partition("-")
    parse = _number if kind == "num" else _instant
    wanted = [n for n in (parse(v) for v in values) if n is not None]
    compare = _COMPARE[how]

    def numeric(value: str, ctx: RequestContext) -> bool:
        got = parse(value)
        return got is not None and any(compare(got, w) for w in wanted)

    return numeric


def _string_matcher(family: str, plain: list[str], templates: tuple[Template, ...]) -> Matcher:
    if family == "equals":
        exact = frozenset(plain)

        def equals(value: str, ctx: RequestContext) -> bool:
            return value in exact or any(resolved_text(t, ctx.single) == value for t in templates)

        return equals
    if family == "equals-ci":
        folded = frozenset(v.casefold() for v in plain)

        def equals_ci(value: str, ctx: RequestContext) -> bool:
            v = value.casefold()
            return v in folded or any((resolved_text(t, ctx.single) or "\0").casefold() == v for t in templates)

        return equals_ci
    arn = family == "arn"
    compiled = compile_any(glob_regex(v, arn=arn and is_arn_pattern(v)) for v in plain)

    def like(value: str, ctx: RequestContext) -> bool:
        if compiled.fullmatch(value):
            return True
        for t in templates:
            pieces = resolve(t, ctx.single)
            if pieces is not None:
                text = "".join(p for p, _ in pieces)
                if full_match(pieces_regex(pieces, arn=arn and is_arn_pattern(text)), value):
                    return True
        return False

    return like


def _ip_matcher(values: list[str]) -> Matcher:
    networks = []
    for v in values:
        try:
            networks.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            raise MalformedPolicy(f"{v} is not an IP address or CIDR block.") from None

    def in_networks(value: str, ctx: RequestContext) -> bool:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in networks)

    return in_networks


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _instant(text: str) -> float | None:
    """A date value: ISO 8601 (UTC when no offset is given) or seconds since the epoch."""
    seconds = _number(text)
    if seconds is not None:
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
