"""``kmsgw bench p11``: any PKCS#11 module, no gateway."""

from __future__ import annotations

import argparse
import json
import os
import sys

from gateway.bench.cli import common
from gateway.bench.cli.common import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "p11",
        help="benchmark a PKCS#11 token directly (no gateway)",
        description="Discovery (library, token, mechanisms), then every mechanism x key x payload x concurrency "
        "cell. Keys are session objects unless --keys says otherwise; everything made is destroyed at exit.",
    )
    p.add_argument("--module", required=True, help="path of the PKCS#11 library (.so)")
    p.add_argument("--token-label", required=True, help="label of the token to use")
    common.add_pin_options(p, " (or --pin-env)")
    p.add_argument(
        "--mechanisms",
        default="auto",
        help="auto (what the gateway uses) or a list: aes-gcm[:bits], aes-kwp[:bits], rsa-pss[:bits], "
        "rsa-oaep[:bits], ecdsa[:p256|p384|p521], hmac-sha256[:bits], random, unwrap[:bits]",
    )
    p.add_argument("--payload", default="32,1024,4096", help="payload sizes in bytes (default 32,1024,4096)")
    p.add_argument("--concurrency", default="1,2,4,8", help="callers in parallel (default 1,2,4,8)")
    p.add_argument(
        "--model",
        choices=("processes", "threads"),
        default="processes",
        help="processes (default: each initializes the module) or threads in one process (CKF_OS_LOCKING_OK)",
    )
    p.add_argument("--keys", default="session", help="session (default), token, or existing:LABEL")
    p.add_argument("--softhsm2-conf", help="SOFTHSM2_CONF for the workers (SoftHSM2 only; default: inherited)")
    common.add_run_options(p)
    p.set_defaults(run=main)


def settings(args: argparse.Namespace) -> object:
    from gateway.bench.p11.catalog import parse_mechanisms
    from gateway.bench.p11.runner import P11Settings

    pin = common.read_pin(args)
    if pin is None:
        raise UsageError("the token's PIN: --pin-file FILE (mode 0600) or --pin-env VAR")
    if not os.path.exists(args.module):
        raise UsageError(f"--module {args.module}: no such file")
    if not (args.keys in ("session", "token") or (args.keys.startswith("existing:") and len(args.keys) > 9)):
        raise UsageError("--keys: session, token or existing:LABEL")
    if not 1 <= args.repeat <= 100:
        raise UsageError("--repeat must be in 1..100")
    try:
        mechanisms = parse_mechanisms(args.mechanisms)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    env = {"SOFTHSM2_CONF": args.softhsm2_conf} if args.softhsm2_conf else {}
    return P11Settings(
        module=args.module, token_label=args.token_label, pin=pin, mechanisms=mechanisms,
        payloads=common.int_list(args.payload, "--payload", 1, 1 << 20),
        concurrency=common.int_list(args.concurrency, "--concurrency", 1, 256), model=args.model, keys=args.keys,
        duration=common.seconds(args.duration, "--duration", 0.01, 3600),
        warmup=common.seconds(args.warmup, "--warmup", 0, 600), repeat=args.repeat,
        p99_budget_us=common.micros(args.p99_budget, "--p99-budget"), env=env,
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from gateway.bench.p11.runner import HostError, OpenError, P11Settings, run_p11, total_runs
    from gateway.bench.report.tables import run_text
    from gateway.bench.result import write_json

    try:
        s = settings(args)
    except UsageError as exc:
        return common.fail(str(exc))
    assert isinstance(s, P11Settings)
    try:
        with common.progress(total_runs(s), not args.no_progress) as tick:
            run = run_p11(s, common.command_line(), tick)
    except OpenError as exc:
        return common.fail(str(exc).splitlines()[0], common.EXIT_USAGE)
    except HostError as exc:
        return common.fail(str(exc).splitlines()[0], common.EXIT_FAILED)
    if args.out:
        write_json(run, args.out)
    print(json.dumps(run, indent=1) if args.json else run_text(run))
    if args.out:
        print(f"kmsgw: wrote {args.out}", file=sys.stderr)
    return common.EXIT_FAILED if run["summary"]["failed"] else common.EXIT_OK
