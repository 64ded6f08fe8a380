"""`kmsgw`: serve, and create credentials or tokens for callers."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from gateway import config as config_mod
from gateway import logs


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file (see deploy/kmsgw.example.toml)")
    p.add_argument("--data-dir", help="state directory (default ./var)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kmsgw", description="KMS gateway over a PKCS#11 token")
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC and HTTP listeners")
    _common(serve)
    serve.add_argument("--grpc-listen", help="HOST:PORT (default 127.0.0.1:50051)")
    serve.add_argument("--rest-listen", help="HOST:PORT (default 127.0.0.1:8080)")
    serve.add_argument("--log-level", default=None)
    serve.add_argument(
        "--workers", type=int, default=None, help="processes sharing the ports and the token (default: CPU cores)"
    )

    cred = sub.add_parser("credentials", help="AK/SK credentials for REST callers")
    cred_sub = cred.add_subparsers(dest="action", required=True)
    cc = cred_sub.add_parser("create", help="print a new access key and secret key as JSON")
    _common(cc)
    cc.add_argument("--project-id", required=True)
    cc.add_argument("--domain-id")

    tok = sub.add_parser("token", help="bearer tokens for X-Auth-Token / x-auth-token")
    tok_sub = tok.add_subparsers(dest="action", required=True)
    tc = tok_sub.add_parser("create", help="print a new token as JSON")
    _common(tc)
    tc.add_argument("--project-id", required=True)
    tc.add_argument("--domain-id")
    tc.add_argument("--user-id")
    tc.add_argument("--ttl", type=int, default=86400, help="seconds (default 86400)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cfg = config_mod.load(
        args.config,
        data_dir=args.data_dir,
        grpc_listen=getattr(args, "grpc_listen", None),
        rest_listen=getattr(args, "rest_listen", None),
        log_level=getattr(args, "log_level", None),
    )
    logs.setup(cfg.log_level if args.command == "serve" else "WARNING")
    if args.command == "serve":
        from gateway.server import serve

        workers = args.workers if args.workers is not None else cfg.workers or (os.cpu_count() or 1)
        if workers < 1:
            print("kmsgw: --workers must be at least 1", file=sys.stderr)
            return 2
        return serve(cfg, workers)

    from gateway.runtime import Runtime

    rt = Runtime.open(cfg)
    try:
        if args.command == "credentials":

            async def create() -> dict:
                await rt.auth.setup()
                return await rt.auth.create_credentials(args.project_id, args.domain_id)

            out: dict = asyncio.run(create())
        else:
            out = rt.auth.create_token(args.project_id, args.ttl, args.domain_id, args.user_id)
    except ValueError as exc:
        print(f"kmsgw: {exc}", file=sys.stderr)
        return 2
    finally:
        rt.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
