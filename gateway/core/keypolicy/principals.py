"""Who a statement names (its ``Principal``) and who is calling, and whether the two meet.

A statement names principals three ways, and they decide differently:

* ``"*"`` / ``{"AWS": "*"}`` — everyone, directly;
* an IAM user, role, assumed-role session or federated user ARN — that identity, directly (a role
  also covers its sessions, ``arn:aws:sts::ACCT:assumed-role/NAME/SESSION``);
* an account (``"111122223333"`` or ``arn:aws:iam::111122223333:root``) — the account, which in a
  key policy does not give any identity the permission: it lets the account's own (IAM-like)
  permissions decide. Only the account root user itself is matched directly.

``Service``, ``Federated`` and ``CanonicalUser`` principals are valid but never match a caller:
the gateway's callers are account identities. ``NotPrincipal`` is refused (see document.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Any

from gateway.core.keypolicy.errors import INVALID_PRINCIPALS, NO_PRINCIPAL, MalformedPolicy

ACCOUNT_RE = re.compile(r"\d{12}")
_NAME = r"[\w+=,.@-]+"
_PATH = r"(?:/[\w+=,.@/-]*/|/)"
_IAM_ARN = re.compile(
    rf"arn:(aws|aws-cn|aws-us-gov|aws-iso(?:-[a-z])?|aws-eusc):(iam|sts)::(\d{{12}}):"
    rf"(root|user{_PATH}?{_NAME}|role{_PATH}?{_NAME}|assumed-role/{_NAME}/{_NAME}|federated-user/{_NAME})"
)
_SERVICE_RE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")


class Match(IntEnum):
    NONE = 0
    DIRECT = 1
    ACCOUNT = 2
    """Named only through the caller's account: the account's own permissions decide."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The parts of a caller ARN that principals and condition keys look at."""

    arn: str
    account: str
    kind: str
    """``root``, ``user``, ``role``, ``assumed-role``, ``federated-user`` or ``unknown``."""
    name: str
    """User name, role name (also for a session), federated user name; empty otherwise."""

    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: a session reports its role (without the path, which the session ARN lacks)."""
        if self.kind == "assumed-role":
            partition = self.arn.split(":", 2)[1]
            return f"arn:{partition}:iam::{self.account}:role/{self.name}"
        return self.arn

    @property
    def principal_type(self) -> str:
        return {
            "root": "Account",
            "user": "User",
            "role": "AssumedRole",
            "assumed-role": "AssumedRole",
            "federated-user": "FederatedUser",
        }.get(self.kind, "")


@lru_cache(maxsize=4096)
def caller(arn: str, account: str) -> Caller:
    """Parse once per distinct caller (the transport sees few of them, many times each)."""
    m = _IAM_ARN.fullmatch(arn)
    if m is None:
        return Caller(arn, account, "unknown", "")
    resource = m.group(4)
    if resource == "root":
        return Caller(arn, m.group(3), "root", "")
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return Caller(arn, m.group(3), kind, rest.split("/", 1)[0])
    return Caller(arn, m.group(3), kind, rest.rsplit("/", 1)[-1])


@dataclass(frozen=True, slots=True)
class Principals:
    anyone: bool = False
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()
    roles: frozenset[tuple[str, str]] = frozenset()
    """(account, role name): a role ARN also names the role's sessions."""

    def match(self, who: Caller) -> Match:
        if self.anyone or who.arn in self.arns:
            return Match.DIRECT
        if who.kind == "assumed-role" and (who.account, who.name) in self.roles:
            return Match.DIRECT
        if who.account in self.accounts:
            return Match.DIRECT if who.kind == "root" else Match.ACCOUNT
        return Match.NONE


def parse_principal(value: Any) -> Principals:
    """Validate a statement's ``Principal`` and index it for matching."""
    if value == "*":
        return Principals(anyone=True)
    if isinstance(value, str):
        raise MalformedPolicy(INVALID_PRINCIPALS)
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy(NO_PRINCIPAL)
    anyone = False
    accounts: set[str] = set()
    arns: set[str] = set()
    roles: set[tuple[str, str]] = set()
    for kind, names in value.items():
        if kind not in _PRINCIPAL_KINDS:
            raise MalformedPolicy(INVALID_PRINCIPALS)
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, list) or not listed or not all(isinstance(n, str) for n in listed):
            raise MalformedPolicy(INVALID_PRINCIPALS)
        for name in listed:
            if kind != "AWS":
                if kind == "Service" and not _SERVICE_RE.fullmatch(name):
                    raise MalformedPolicy(INVALID_PRINCIPALS)
                if not name.strip():
                    raise MalformedPolicy(INVALID_PRINCIPALS)
                continue
            if name == "*":
                anyone = True
            elif ACCOUNT_RE.fullmatch(name):
                accounts.add(name)
            else:
                m = _IAM_ARN.fullmatch(name)
                if m is None:
                    raise MalformedPolicy(INVALID_PRINCIPALS)
                who = caller(name, m.group(3))
                if who.kind == "root":
                    accounts.add(who.account)
                    continue
                arns.add(name)
                if who.kind == "role":
                    roles.add((who.account, who.name))
    return Principals(anyone, frozenset(accounts), frozenset(arns), frozenset(roles))
