"""`kmsgw aws credentials create`: an AWS access key for the AWS KMS API (docs/aws-kms.md).

Opens the store and the token itself like `kmsgw credentials` (``--config``, ``--data-dir``,
``--store``), prints one JSON object on one line — ``{"AccessKeyId", "SecretAccessKey", "AccountId",
"Arn", "ProjectId", "AllowedActions"}`` — and exits 0; the secret is shown this once and stored sealed
by the token. A usage or validation problem is one line on stderr, exit 2. ``--allow`` lists the
``kms:`` actions the key may perform where a key policy delegates to the account (the default
policy does); without it, every action.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from gateway.commands._common import add_common, fail, load_config
from gateway.core import operations

AWS_ACTIONS = frozenset(op.action for op in operations.CATALOG if op.transport == "aws") | {
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:*",
}


def register(sub: argparse._SubParsersAction) -> None:
    aws = sub.add_parser("aws", help="the AWS KMS API: access keys of AWS accounts")
    groups = aws.add_subparsers(dest="aws_group", required=True)
    creds = groups.add_parser("credentials", help="AWS access keys (SigV4) of an account")
    actions = creds.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new access key; print it (the secret this once)")
    add_common(create)
    create.add_argument("--account-id", required=True, help="the 12-digit AWS account id")
    create.add_argument("--project-id", help="the gateway project of the account's keys (default aws-<account>)")
    create.add_argument("--user", help="the IAM user name key policies call it by (default: the access key id)")
    create.add_argument("--allow", nargs="+", metavar="ACTION", help="kms: actions it may perform (default: all)")
    create.set_defaults(run=create_credential)


def _actions(names: list[str] | None) -> frozenset[str] | None:
    if names is None:
        return None
    chosen = frozenset(a.strip() for name in names for a in name.split(",") if a.strip())
    unknown = sorted(chosen - AWS_ACTIONS)
    if unknown or not chosen:
        raise ValueError(
            f"unknown action(s): {', '.join(unknown) or '(none)'} (known: {', '.join(sorted(AWS_ACTIONS))})"
        )
    return chosen


def create_credential(args: argparse.Namespace) -> int:
    from gateway.app.runtime import Runtime
    from gateway.core.aws.directory import AwsDirectory

    try:
        actions = _actions(args.allow)
    except ValueError as exc:
        return fail(str(exc))
    rt = Runtime.open(load_config(args))
    try:
        asyncio.run(rt.auth.setup())
        directory = AwsDirectory(rt.store, rt.kms.hsm, rt.kms.clock)
        out = asyncio.run(directory.create_credential(args.account_id, args.project_id, args.user, actions))
    except ValueError as exc:
        return fail(str(exc))
    finally:
        rt.close()
    print(json.dumps(out))
    return 0
