"""`kmsgw credentials create`: AK/SK credentials for REST callers."""

from __future__ import annotations

import argparse
import asyncio
import json

from gateway.commands._common import add_common, fail, load_config


def register(sub: argparse._SubParsersAction) -> None:
    cred = sub.add_parser("credentials", help="AK/SK credentials for REST callers")
    cred_sub = cred.add_subparsers(dest="action", required=True)
    cc = cred_sub.add_parser("create", help="print a new access key and secret key as JSON")
    add_common(cc)
    cc.add_argument("--project-id", required=True)
    cc.add_argument("--domain-id")
    cc.set_defaults(run=create)


def create(args: argparse.Namespace) -> int:
    from gateway.runtime import Runtime

    rt = Runtime.open(load_config(args))
    try:

        async def make() -> dict:
            await rt.auth.setup()
            return await rt.auth.create_credentials(args.project_id, args.domain_id)

        out = asyncio.run(make())
    except ValueError as exc:
        return fail(str(exc))
    finally:
        rt.close()
    print(json.dumps(out))
    return 0
