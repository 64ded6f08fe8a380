"""AWS KMS key policies and grant constraints, evaluated as AWS documents them: pure logic.

The AWS transport calls this package; it holds no state and does no I/O. See
docs/aws-kms-policies.md for the rules as implemented and where they differ from AWS.

Interface::

    parse(text) -> Policy                      # validate once, cache per key and policy version;
                                               # Policy.text is the original text (GetKeyPolicy)
    default_policy(account_id) -> str          # the policy CreateKey attaches when given none
    evaluate(policy, PolicyRequest(...)) -> Evaluation
        Evaluation.decision                    # Decision.ALLOW | EXPLICIT_DENY | IMPLICIT_DENY
        Evaluation.via_account_root            # allowed only because the account is named:
                                               #   the caller's own permission list decides too
        Evaluation.cross_account               # caller's account is not the key's: same
        Evaluation.identity_check_required     # either of the two, on an ALLOW
        Evaluation.denial, .statement_id       # for the message and the audit line
    check_lockout(policy, principal_arn, account_id, *, resource_arn=None, extra=None)
                                               # raises MalformedPolicy (AWS's lock-out message)
    denied_message(principal_arn, action, resource_arn, denial=Denial.NO_RESOURCE_POLICY_ALLOWS) -> str
    GrantConstraints.from_wire(obj) / .to_wire()
    grant_allows(operations, constraints, operation, encryption_context) -> bool
    grant_allows_child(parent_ops, parent_constraints, child_ops, child_constraints) -> bool

``MalformedPolicy`` is a ValueError whose text is the MalformedPolicyDocumentException message;
its subclass ``PolicyTooLarge`` (over 32 KB) is the one AWS reports as LimitExceededException.

The decision chain for a request on a key: EXPLICIT_DENY refuses (a grant cannot override it);
ALLOW runs, after the caller's permission list when ``identity_check_required``; IMPLICIT_DENY
runs only if a live grant for the caller allows it (``grant_allows``); otherwise refuse with
``denied_message`` and ``Evaluation.denial`` (or ``Denial.NO_IDENTITY_POLICY_ALLOWS`` when the
permission list was what said no).
"""

from __future__ import annotations

from gateway.core.keypolicy.context import ContextValue, PolicyRequest
from gateway.core.keypolicy.document import Policy, default_policy, parse
from gateway.core.keypolicy.errors import MAX_POLICY_BYTES, MalformedPolicy, PolicyTooLarge
from gateway.core.keypolicy.evaluation import (
    Decision,
    Denial,
    Evaluation,
    check_lockout,
    denied_message,
    evaluate,
)
from gateway.core.keypolicy.grants import (
    CONTEXT_OPERATIONS,
    GRANT_OPERATIONS,
    GrantConstraints,
    grant_allows,
    grant_allows_child,
)

__all__ = [
    "CONTEXT_OPERATIONS",
    "GRANT_OPERATIONS",
    "MAX_POLICY_BYTES",
    "ContextValue",
    "Decision",
    "Denial",
    "Evaluation",
    "GrantConstraints",
    "MalformedPolicy",
    "Policy",
    "PolicyRequest",
    "PolicyTooLarge",
    "check_lockout",
    "default_policy",
    "denied_message",
    "evaluate",
    "grant_allows",
    "grant_allows_child",
    "parse",
]
