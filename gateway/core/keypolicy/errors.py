"""The one error a key policy document can earn, and its size variant.

``str(exc)`` is the message the transport puts in MalformedPolicyDocumentException. The texts AWS
is known to return word for word are kept word for word (the principal and lock-out messages);
the others say plainly what is wrong, since AWS's own wording for them is not published.
"""

from __future__ import annotations

MAX_POLICY_BYTES = 32_768
"""Key policy size quota: 32 KB of UTF-8. AWS answers LimitExceededException above it."""

NO_PRINCIPAL = "Policy contains a statement with no principal."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."
LOCKOUT = "The new key policy will not allow you to update the key policy in the future."
OVERLY_PERMISSIVE_CONTEXT = (
    "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued "
    "condition key matches requests without the specified encryption context or with an unspecified "
    "encryption context. To fix, remove ForAllValues."
)


class MalformedPolicy(ValueError):
    """The document is not a key policy AWS KMS would accept (MalformedPolicyDocumentException)."""


class PolicyTooLarge(MalformedPolicy):
    """Over :data:`MAX_POLICY_BYTES`; AWS reports this one as LimitExceededException, so it is its own type."""
