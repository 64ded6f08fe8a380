"""Grant constraints: a grant's operations and its encryption-context conditions.

As the AWS KMS API reference defines them: ``EncryptionContextSubset`` holds when the request's
encryption context includes every pair of the constraint (it may have more);
``EncryptionContextEquals`` when the context has exactly the constraint's pairs. In a constraint
the *key* of a pair is compared without regard to case and the *value* exactly (unlike the
cryptographic binding of the context, which is exact for both). Constraints apply only to the
operations that take an encryption context; a constrained grant may still list DescribeKey and
RetireGrant, which it then allows unconstrained. A grant that lists CreateGrant lets its grantee
create only grants that are equally or more restrictive (:func:`grant_allows_child`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GRANT_OPERATIONS = frozenset(
    {
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
        "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
        "DeriveSharedSecret", "Encapsulate", "Decapsulate",
    }
)  # fmt: skip
"""Operations a grant may list (botocore's GrantOperation)."""
CONTEXT_OPERATIONS = frozenset(
    {
        "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
        "ReEncryptTo", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    }
)  # fmt: skip
"""The grant operations that take an encryption context: the only ones constraints apply to."""
MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_VALUE = 384


@dataclass(frozen=True, slots=True)
class GrantConstraints:
    encryption_context_subset: Mapping[str, str] | None = None
    encryption_context_equals: Mapping[str, str] | None = None

    @property
    def empty(self) -> bool:
        return self.encryption_context_subset is None and self.encryption_context_equals is None

    @classmethod
    def from_wire(cls, value: Any) -> GrantConstraints:
        """From CreateGrant's ``Constraints`` (or None); ValueError names what is wrong."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise ValueError("Constraints must be an object.")
        unknown = set(value) - {"EncryptionContextSubset", "EncryptionContextEquals"}
        if unknown:
            raise ValueError(f"Unsupported grant constraint: {sorted(unknown)[0]}.")
        return cls(
            _context(value.get("EncryptionContextSubset"), "EncryptionContextSubset"),
            _context(value.get("EncryptionContextEquals"), "EncryptionContextEquals"),
        )

    def to_wire(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        if self.encryption_context_subset is not None:
            out["EncryptionContextSubset"] = dict(self.encryption_context_subset)
        if self.encryption_context_equals is not None:
            out["EncryptionContextEquals"] = dict(self.encryption_context_equals)
        return out


def grant_allows(
    operations: Collection[str],
    constraints: GrantConstraints | None,
    operation: str,
    encryption_context: Mapping[str, str] | None,
) -> bool:
    """Whether a grant listing ``operations`` with ``constraints`` allows ``operation`` (e.g. ``Decrypt``).

    For ReEncrypt, ask twice: ``ReEncryptFrom`` with the source context on the source key's
    grants, ``ReEncryptTo`` with the destination context on the destination key's.
    """
    if operation not in operations:
        return False
    if constraints is None or constraints.empty or operation not in CONTEXT_OPERATIONS:
        return True
    return _satisfies(constraints, encryption_context or {})


def grant_allows_child(
    parent_operations: Collection[str],
    parent_constraints: GrantConstraints | None,
    child_operations: Iterable[str],
    child_constraints: GrantConstraints | None,
) -> bool:
    """CreateGrant through a grant: the new grant may not list more, nor be less constrained."""
    if "CreateGrant" not in parent_operations or not set(child_operations) <= set(parent_operations):
        return False
    parent = parent_constraints or GrantConstraints()
    child = child_constraints or GrantConstraints()
    if parent.empty:
        return True
    if child.encryption_context_equals is not None:
        only = child.encryption_context_equals
        if child.encryption_context_subset is not None and not _includes(only, child.encryption_context_subset):
            return True  # the child allows no context at all
        return _satisfies(parent, only)
    if parent.encryption_context_equals is not None:
        return False  # a subset allows contexts beyond the one the parent insists on
    required = child.encryption_context_subset or {}
    return _includes(required, parent.encryption_context_subset or {})


def _satisfies(constraints: GrantConstraints, context: Mapping[str, str]) -> bool:
    subset = constraints.encryption_context_subset
    if subset is not None and not _includes(context, subset):
        return False
    equals = constraints.encryption_context_equals
    return equals is None or (len(context) == len(equals) and _folded(context) == _folded(equals))


def _includes(context: Mapping[str, str], required: Mapping[str, str]) -> bool:
    """Every required pair is in ``context`` (keys compared ignoring case, values exactly)."""
    have = _folded(context)
    return all(pair in have for pair in _folded(required))


def _folded(context: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k.casefold(), v) for k, v in context.items())


def _context(value: Any, name: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{name} must map strings to strings.")
    if len(value) > MAX_CONSTRAINT_PAIRS:
        raise ValueError(f"{name} may hold at most {MAX_CONSTRAINT_PAIRS} encryption context pairs.")
    if any(len(v) > MAX_CONSTRAINT_VALUE for v in value.values()):
        raise ValueError(f"An encryption context value in {name} may have at most {MAX_CONSTRAINT_VALUE} characters.")
    return dict(value)
