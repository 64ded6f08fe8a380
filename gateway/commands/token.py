"""`kmsgw token create`: bearer tokens for X-Auth-Token (REST) and x-auth-token (gRPC metadata).

`--allow ACTION ...` limits the token to those permission actions (default: every action); a
token's policy is fixed for its lifetime (issue a new token to change it).
"""

from __future__ import annotations

import argparse
import json

from gateway.commands._common import add_common, fail, load_config
from gateway.commands.credentials import ACTIONS_HELP, policy_from


def register(sub: argparse._SubParsersAction) -> None:
    tok = sub.add_parser("token", help="bearer tokens for X-Auth-Token / x-auth-token")
    tok_sub = tok.add_subparsers(dest="action", required=True)
    tc = tok_sub.add_parser("create", help="print a new token as JSON")
    add_common(tc)
    tc.add_argument("--project-id", required=True)
    tc.add_argument("--domain-id")
    tc.add_argument("--user-id")
    tc.add_argument("--ttl", type=int, default=86400, help="seconds (default 86400)")
    tc.add_argument("--allow", nargs="+", metavar="ACTION", help="limit the token to these " + ACTIONS_HELP)
    tc.set_defaults(run=create)


def create(args: argparse.Namespace) -> int:
    from gateway.app.runtime import Runtime

    try:
        actions = policy_from(args.allow)
    except ValueError as exc:
        return fail(str(exc))
    rt = Runtime.open(load_config(args))
    try:
        out = rt.auth.create_token(args.project_id, args.ttl, args.domain_id, args.user_id, actions)
    except ValueError as exc:
        return fail(str(exc))
    finally:
        rt.close()
    print(json.dumps(out))
    return 0
