"""Parsing a key policy document: validate it as AWS KMS does, and compile it for evaluation.

A document is parsed once (the transport caches the :class:`Policy` per key and policy version)
and keeps its original text, which GetKeyPolicy returns unchanged. What is checked:

* size (32 KB of UTF-8, :class:`PolicyTooLarge`) and the key policy character set (printable
  Latin-1, tab, line feed, carriage return);
* JSON: an object, no duplicate names, no NaN/Infinity;
* ``Version`` (required: ``2012-10-17``, or ``2008-10-17`` which has no policy variables),
  ``Id`` (optional), ``Statement`` (one object or a non-empty list); nothing else;
* each statement: ``Effect`` ``Allow``/``Deny``; ``Principal`` (required); ``Action`` or
  ``NotAction``; ``Resource`` or ``NotResource`` (AWS rejects a statement without them since
  August 2025); ``Condition`` (conditions.py); ``Sid`` unique when given. ``NotPrincipal`` is
  refused rather than half-implemented.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gateway.core.keypolicy.conditions import ConditionTest, parse_conditions
from gateway.core.keypolicy.context import RequestContext
from gateway.core.keypolicy.errors import MAX_POLICY_BYTES, NO_PRINCIPAL, MalformedPolicy, PolicyTooLarge
from gateway.core.keypolicy.patterns import compile_any, full_match, glob_regex, is_arn_pattern, pieces_regex
from gateway.core.keypolicy.principals import ACCOUNT_RE, Principals, parse_principal
from gateway.core.keypolicy.variables import Template, parse_template, resolve

VERSIONS = ("2012-10-17", "2008-10-17")
_CHARSET = re.compile(r"[\t\n\r\x20-\xff]*")
_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[^:]+")
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_CACHE_ACTIONS = 256


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str | None
    deny: bool
    principals: Principals
    actions: re.Pattern[str]
    not_action: bool
    any_resource: bool
    resources: re.Pattern[str]
    resource_templates: tuple[Template, ...]
    not_resource: bool
    conditions: tuple[ConditionTest, ...]

    def covers_action(self, action: str) -> bool:
        return (self.actions.fullmatch(action) is not None) != self.not_action

    def covers_resource(self, arn: str | None, ctx: RequestContext) -> bool:
        if arn is None:
            return True
        hit = self.any_resource or self.resources.fullmatch(arn) is not None
        if not hit and self.resource_templates:
            for template in self.resource_templates:
                pieces = resolve(template, ctx.single)
                if pieces is not None and full_match(pieces_regex(pieces, arn=True), arn):
                    hit = True
                    break
        return hit != self.not_resource


class Policy:
    """A parsed key policy: its original text and its compiled statements."""

    __slots__ = ("_by_action", "id", "statements", "text", "version")

    def __init__(self, text: str, version: str, policy_id: str | None, statements: tuple[Statement, ...]) -> None:
        self.text = text
        self.version = version
        self.id = policy_id
        self.statements = statements
        self._by_action: dict[str, tuple[Statement, ...]] = {}

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action covers ``action``, Deny first (worked out once per action)."""
        found = self._by_action.get(action)
        if found is None:
            covering = [s for s in self.statements if s.covers_action(action)]
            found = tuple(sorted(covering, key=lambda s: not s.deny))
            if len(self._by_action) < _CACHE_ACTIONS:
                self._by_action[action] = found
        return found

    def __repr__(self) -> str:
        return f"Policy(version={self.version!r}, id={self.id!r}, statements={len(self.statements)})"


def parse(text: str) -> Policy:
    """Validate ``text`` as a key policy; raise :class:`MalformedPolicy` saying what is wrong."""
    if not isinstance(text, str):
        raise MalformedPolicy("The key policy must be a string holding a JSON document.")
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyTooLarge(f"The key policy exceeds the size quota of {MAX_POLICY_BYTES} bytes.")
    if not text.strip():
        raise MalformedPolicy("The key policy is empty.")
    if not _CHARSET.fullmatch(text):
        raise MalformedPolicy(
            "The key policy may hold only printable ASCII and Latin-1 characters, tab, line feed and carriage return."
        )
    try:
        doc = json.loads(text, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except MalformedPolicy:
        raise
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise MalformedPolicy(f"The key policy is not valid JSON: {exc.msg} ({where}).") from None
    except (ValueError, RecursionError):
        raise MalformedPolicy("The key policy is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise MalformedPolicy("The key policy must be a JSON object.")
    _only(doc, _POLICY_KEYS, "policy")
    version = doc.get("Version")
    if version is None:
        raise MalformedPolicy("The key policy must have a Version element (2012-10-17).")
    if version not in VERSIONS:
        raise MalformedPolicy(f"The policy Version must be 2012-10-17 or 2008-10-17, not {version}.")
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy("The policy Id must be a string.")
    raw = doc.get("Statement")
    listed = [raw] if isinstance(raw, dict) else raw
    if not isinstance(listed, list) or not listed:
        raise MalformedPolicy("The key policy must have a Statement element with at least one statement.")
    statements = tuple(_statement(s, variables=version == VERSIONS[0]) for s in listed)
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")
    return Policy(text, version, policy_id, statements)


def default_policy(account_id: str) -> str:
    """The key policy AWS KMS attaches when CreateKey names none, in the text GetKeyPolicy shows."""
    if not isinstance(account_id, str) or not ACCOUNT_RE.fullmatch(account_id):
        raise ValueError("account_id must be 12 digits.")
    return (
        '{\n  "Version" : "2012-10-17",\n  "Id" : "key-default-1",\n  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n    "Effect" : "Allow",\n    "Principal" : {\n'
        f'      "AWS" : "arn:aws:iam::{account_id}:root"\n    }},\n    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n  } ]\n}'
    )


def _statement(raw: Any, *, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Each policy statement must be a JSON object.")
    _only(raw, _STATEMENT_KEYS, "statement")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy("A statement's Sid must be a string.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy("A statement's Effect must be Allow or Deny.")
    if "NotPrincipal" in raw:
        raise MalformedPolicy("NotPrincipal is not supported in key policies here: name the principals in Principal.")
    if "Principal" not in raw:
        raise MalformedPolicy(NO_PRINCIPAL)
    principals = parse_principal(raw["Principal"])
    actions, not_action = _pick(raw, "Action", "NotAction")
    for action in actions:
        if action != "*" and not _ACTION_RE.fullmatch(action):
            if ":" not in action:
                raise MalformedPolicy("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
            raise MalformedPolicy("Actions/Condition can contain only one colon.")
    resources, not_resource = _pick(raw, "Resource", "NotResource")
    plain: list[str] = []
    templates: list[Template] = []
    for resource in resources:
        if resource != "*" and not is_arn_pattern(resource):
            raise MalformedPolicy(f'Resource {resource} must be in ARN format or "*".')
        template = parse_template(resource) if variables else None
        if template is None:
            plain.append(resource)
        else:
            templates.append(template)
    conditions = parse_conditions(raw["Condition"], variables=variables) if "Condition" in raw else ()
    return Statement(
        sid=sid,
        deny=effect == "Deny",
        principals=principals,
        actions=compile_any((glob_regex(a) for a in actions), ignore_case=True),
        not_action=not_action,
        any_resource="*" in plain,
        resources=compile_any(glob_regex(r, arn=True) for r in plain if r != "*"),
        resource_templates=tuple(templates),
        not_resource=not_resource,
        conditions=conditions,
    )


def _pick(raw: dict[str, Any], name: str, negated: str) -> tuple[list[str], bool]:
    """Exactly one of ``name`` / ``negated``, as a non-empty list of strings."""
    if name in raw and negated in raw:
        raise MalformedPolicy(f"A statement may have {name} or {negated}, not both.")
    if name not in raw and negated not in raw:
        raise MalformedPolicy(f"A key policy statement must have a {name} or {negated} element.")
    key = name if name in raw else negated
    value = raw[key]
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list) or not listed or not all(isinstance(v, str) and v for v in listed):
        raise MalformedPolicy(f"{key} must be a non-empty string or a non-empty list of strings.")
    return listed, key == negated


def _only(obj: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    for name in obj:
        if name not in allowed:
            raise MalformedPolicy(f"The {what} has an element key policies do not have: {name}.")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise MalformedPolicy(f"The key policy names {name} twice in one JSON object.")
        out[name] = value
    return out


def _no_constant(name: str) -> Any:
    raise MalformedPolicy(f"The key policy is not valid JSON: {name} is not a JSON value.")
