"""Evaluating a key policy for one request: Deny over Allow, and what an Allow rests on.

Per statement: its Action covers the action (case-insensitively), its Principal names the caller,
its Resource covers the key ARN, and all its conditions hold. Then:

* any such Deny statement: ``EXPLICIT_DENY`` — nothing (not the account, not a grant) overrides it;
* else an Allow that names the caller (or everyone) directly: ``ALLOW``;
* else an Allow that names only the caller's account: ``ALLOW`` with ``via_account_root``: the
  account's own permission list for the caller must allow the action too (the default policy);
* else ``IMPLICIT_DENY`` — a grant may still allow the request (grants.py).

A caller from another account than the key's needs its own account's permission as well, even
when the key policy names it (``cross_account``), as in AWS's cross-account evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

from gateway.core.keypolicy.context import ContextValue, PolicyRequest, RequestContext
from gateway.core.keypolicy.document import Policy
from gateway.core.keypolicy.errors import LOCKOUT, MalformedPolicy
from gateway.core.keypolicy.principals import Match, caller


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


class Denial(Enum):
    """Which policy refused, in the words of AWS's AccessDeniedException message."""

    NO_RESOURCE_POLICY_ALLOWS = "because no resource-based policy allows the {action} action"
    EXPLICIT_DENY_IN_RESOURCE_POLICY = "with an explicit deny in a resource-based policy"
    NO_IDENTITY_POLICY_ALLOWS = "because no identity-based policy allows the {action} action"
    EXPLICIT_DENY_IN_IDENTITY_POLICY = "with an explicit deny in an identity-based policy"


class Evaluation(NamedTuple):
    """The key policy's answer (a tuple: made on every request, so cheap to make)."""

    decision: Decision
    via_account_root: bool = False
    """Allowed only through a statement naming the caller's account: its permission list decides."""
    cross_account: bool = False
    """The caller's account is not the key's: its permission list must allow the action as well."""
    statement_id: str | None = None
    """Sid of the deciding statement (the Deny, or the Allow), for audit lines."""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def identity_check_required(self) -> bool:
        """The caller's own permission list must allow the action before the request may run."""
        return self.allowed and (self.via_account_root or self.cross_account)

    @property
    def denial(self) -> Denial | None:
        if self.decision is Decision.EXPLICIT_DENY:
            return Denial.EXPLICIT_DENY_IN_RESOURCE_POLICY
        if self.decision is Decision.IMPLICIT_DENY:
            return Denial.NO_RESOURCE_POLICY_ALLOWS
        return None


_IMPLICIT = Evaluation(Decision.IMPLICIT_DENY)


def evaluate(policy: Policy, request: PolicyRequest) -> Evaluation:
    """The key policy's answer for ``request`` (see the module docstring for what it means)."""
    statements = policy.statements_for(request.action)
    if not statements:
        return _IMPLICIT
    who = caller(request.principal_arn, request.account_id)
    ctx = RequestContext(request, who)

    delegated = False
    delegated_sid: str | None = None
    for st in statements:
        match = st.principals.match(who)
        if match is Match.NONE or not st.covers_resource(request.resource_arn, ctx):
            continue
        if st.conditions and not all(test.holds(ctx) for test in st.conditions):
            continue
        if st.deny:
            return Evaluation(Decision.EXPLICIT_DENY, statement_id=st.sid)
        if match is Match.DIRECT:
            # Deny statements come first, so no later statement can still deny.
            return Evaluation(Decision.ALLOW, cross_account=_cross_account(request), statement_id=st.sid)
        if not delegated:
            delegated, delegated_sid = True, st.sid
    if not delegated:
        return _IMPLICIT
    return Evaluation(Decision.ALLOW, True, _cross_account(request), delegated_sid)


def check_lockout(
    policy: Policy,
    principal_arn: str,
    account_id: str,
    *,
    resource_arn: str | None = None,
    extra: Mapping[str, ContextValue] | None = None,
) -> None:
    """AWS's policy lock-out safety check: the caller must still be able to call PutKeyPolicy.

    Raise :class:`MalformedPolicy` with AWS's message when the new policy would not allow
    ``principal_arn`` a later PutKeyPolicy (directly, or through its account as the default
    policy does). The transport skips it when BypassPolicyLockoutSafetyCheck is true.
    """
    request = PolicyRequest(
        principal_arn,
        account_id,
        "kms:PutKeyPolicy",
        resource_arn,
        extra=extra or {},
    )
    if not evaluate(policy, request).allowed:
        raise MalformedPolicy(LOCKOUT)


def denied_message(
    principal_arn: str,
    action: str,
    resource_arn: str,
    denial: Denial = Denial.NO_RESOURCE_POLICY_ALLOWS,
) -> str:
    """AWS's AccessDeniedException message for a refused request."""
    reason = denial.value.format(action=action)
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource_arn} {reason}"


def _cross_account(request: PolicyRequest) -> bool:
    return request.resource_arn is not None and _account_of(request.resource_arn) not in ("", request.account_id)


@lru_cache(maxsize=4096)
def _account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""
