"""`kmsgw credentials create | allow | show`: AK/SK credentials for REST callers and their policy.

A policy is the set of permission actions a credential may perform (gateway/core/permissions.py);
none given means every action of its project. `allow` changes it later: a running server applies
the change within a few seconds (docs/permissions-and-limits.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

from gateway.commands._common import add_common, fail, load_config
from gateway.core import permissions

ACTIONS_HELP = (
    "permission actions, e.g. kms:dek:create kms:dek:crypto (known: "
    + ", ".join(sorted(permissions.KNOWN_ACTIONS))
    + ")"
)


def register(sub: argparse._SubParsersAction) -> None:
    cred = sub.add_parser("credentials", help="AK/SK credentials for REST callers")
    cred_sub = cred.add_subparsers(dest="action", required=True)
    cc = cred_sub.add_parser("create", help="print a new access key and secret key as JSON")
    add_common(cc)
    cc.add_argument("--project-id", required=True)
    cc.add_argument("--domain-id")
    cc.add_argument("--allow", nargs="+", metavar="ACTION", help="limit the credential to these " + ACTIONS_HELP)
    cc.set_defaults(run=create)

    ca = cred_sub.add_parser("allow", help="replace a credential's allowed actions (or --all)")
    add_common(ca)
    ca.add_argument("--access-key", required=True)
    ca.add_argument("--all", action="store_true", help="allow every action of the credential's project")
    ca.add_argument("actions", nargs="*", metavar="ACTION", help=ACTIONS_HELP)
    ca.set_defaults(run=allow)

    cs = cred_sub.add_parser("show", help="print a credential's project and policy as JSON (never its secret)")
    add_common(cs)
    cs.add_argument("--access-key", required=True)
    cs.set_defaults(run=show)


def policy_from(names: list[str] | None) -> frozenset[str] | None:
    """None (every action) when no names are given; ValueError on an unknown action."""
    return None if names is None else permissions.parse_actions(names)


def create(args: argparse.Namespace) -> int:
    try:
        actions = policy_from(args.allow)
    except ValueError as exc:
        return fail(str(exc))

    async def make(rt: Any) -> dict:
        await rt.auth.setup()
        return await rt.auth.create_credentials(args.project_id, args.domain_id, actions)

    return _with_runtime(args, lambda rt: asyncio.run(make(rt)))


def allow(args: argparse.Namespace) -> int:
    if args.all == bool(args.actions):
        return fail("give either --all or one or more actions")
    try:
        actions = None if args.all else permissions.parse_actions(args.actions)
    except ValueError as exc:
        return fail(str(exc))
    return _with_runtime(args, lambda rt: rt.auth.set_credential_actions(args.access_key, actions))


def show(args: argparse.Namespace) -> int:
    return _with_runtime(args, lambda rt: rt.auth.describe_credential(args.access_key))


def _with_runtime(args: argparse.Namespace, work: Callable[[Any], dict]) -> int:
    from gateway.app.runtime import Runtime

    rt = Runtime.open(load_config(args))
    try:
        out = work(rt)
    except ValueError as exc:
        return fail(str(exc))
    finally:
        rt.close()
    print(json.dumps(out))
    return 0
