"""Policies: which permission actions a caller holds, and whether that allows an operation.

Each operation's action comes from the operation catalog (gateway/core/operations.py). A caller's
policy is a set of those actions (``Caller.actions``; ``None`` = every action of its project).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from gateway.core import operations
from gateway.core.errors import Err, KmsError

# Canonical operation name -> action (read by the gate on the hot path: one dict lookup).
OP_ACTIONS: Mapping[str, str] = MappingProxyType({op.name: op.action for op in operations.CATALOG})
KNOWN_ACTIONS: frozenset[str] = operations.KNOWN_ACTIONS
_ACTIONS = dict(OP_ACTIONS)


def action_for(op: str) -> str:
    """The action an operation needs ("" for a name the catalog does not know)."""
    return _ACTIONS.get(op, "")


def parse_actions(names: Iterable[str]) -> frozenset[str]:
    """A policy from action names (commas allowed inside an item); ValueError names any unknown one."""
    actions = frozenset(a.strip() for name in names for a in name.split(",") if a.strip())
    unknown = sorted(actions - KNOWN_ACTIONS)
    if unknown:
        raise ValueError(f"unknown action(s): {', '.join(unknown)} (known: {', '.join(sorted(KNOWN_ACTIONS))})")
    if not actions:
        raise ValueError("a policy needs at least one action (or none at all for every action)")
    return actions


def check(actions: frozenset[str] | None, op: str) -> None:
    """OPERATION_DENIED unless the policy allows ``op`` (an unknown op is denied to a limited caller)."""
    if actions is not None and _ACTIONS.get(op) not in actions:
        raise KmsError(Err.OPERATION_DENIED, f"This credential may not perform {action_for(op) or op}.")
