"""`kmsgw serve`: run the gRPC and HTTP listeners."""

from __future__ import annotations

import argparse
import os

from gateway.commands._common import add_common, fail, load_config


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the gRPC and HTTP listeners")
    add_common(serve)
    serve.add_argument("--grpc-listen", help="HOST:PORT (default 127.0.0.1:50051)")
    serve.add_argument("--rest-listen", help="HOST:PORT (default 127.0.0.1:8080)")
    serve.add_argument("--log-level", default=None)
    serve.add_argument(
        "--workers", type=int, default=None, help="processes sharing the ports and the token (default: CPU cores)"
    )
    serve.add_argument(
        "--xks", action="store_true", help="serve the AWS KMS External Key Store proxy API too (as [xks] enabled)"
    )
    serve.add_argument(
        "--xks-listen",
        metavar="HOST:PORT",
        help="serve XKS on a listener of its own, with workers of its own under split (as [xks] listen)",
    )
    serve.add_argument("--aws", action="store_true", help="serve the AWS KMS API too (as [aws] enabled)")
    serve.add_argument(
        "--serving-model",
        choices=("split", "shared"),
        default=None,
        help="how the listeners share loops and processes (as [serve] model; docs/architecture.md)",
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args, grpc_listen=args.grpc_listen, rest_listen=args.rest_listen, log_level=args.log_level)
    if args.xks:
        cfg.xks.enabled = True
    if args.xks_listen:
        cfg.xks.listen = args.xks_listen
    if args.aws:
        cfg.aws.enabled = True
    if args.serving_model:
        cfg.serve.model = args.serving_model
    from gateway.app.server import serve
    from gateway.telemetry import logs

    logs.setup(cfg.log_level)
    workers = args.workers if args.workers is not None else cfg.workers or (os.cpu_count() or 1)
    if workers < 1:
        return fail("--workers must be at least 1")
    return serve(cfg, workers)
