"""``kmsgw bench gateway``: a running gateway (``--target``) or one started for the run (``--start``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.bench.cli import common
from gateway.bench.cli.common import UsageError

if TYPE_CHECKING:
    from gateway.bench.gw.setup import RawToken


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gateway",
        help="benchmark a gateway through its transports (gRPC, REST, XKS when served)",
        description="Closed-loop concurrency sweeps, batch-size sweeps and open-loop fixed rates per transport "
        "and operation; /metrics split into client+transport, gateway and token time; --with-raw adds the "
        "same mechanisms straight on the gateway's token and a 'x raw' ratio per row.",
    )
    g = p.add_argument_group("which gateway")
    g.add_argument("--target", help="gRPC HOST:PORT of a running gateway (env KMSGW_TARGET)")
    g.add_argument("--rest-url", help="its HTTP base URL (REST API and /metrics), e.g. http://127.0.0.1:8080")
    g.add_argument("--token-file", help="bearer token file, mode 0600 (env KMSGW_TOKEN_FILE)")
    g.add_argument("--project-id", help="the token's project (REST paths carry it)")
    g.add_argument("--ca-file", help="CA certificate when the gateway speaks TLS")
    g.add_argument("--xks-config", help="the XKS proxy configuration file `kmsgw xks keystore create` printed (0600):"
                   " its path and credential; the key of --key-id must be mapped under its own id")  # fmt: skip
    g.add_argument("--xks-url", help="the XKS base URL when not --rest-url + the file's XksProxyUriPath")
    g.add_argument("--start", action="store_true", help="start a throwaway gateway (SoftHSM2 token) for the run")
    g.add_argument("--workers", default="1", help="with --start: worker counts to sweep, e.g. 1,2 (default 1)")
    g.add_argument("--config", help="with --start: TOML passed to kmsgw serve --config")
    w = p.add_argument_group("what")
    w.add_argument("--transports", default="grpc,rest,xks", help="grpc,rest,xks (default: all; absent ones skipped)")
    w.add_argument("--operations", default="create_datakey,decrypt_datakey,encrypt_data,decrypt_data,sign",
                   help="create_datakey, decrypt_datakey, encrypt_data, decrypt_data, sign, datakey_pair")  # fmt: skip
    w.add_argument("--payload", default="32,1024", help="encrypt/decrypt_data sizes in bytes (default 32,1024)")
    w.add_argument("--concurrency", default="1,4,16,64", help="closed loop: calls in flight (default 1,4,16,64)")
    w.add_argument("--batch-sizes", default="", help="batch RPCs: items per call, e.g. 10,100,1000 (default: none)")
    w.add_argument("--batch-concurrency", default="4", help="batch calls in flight (default 4)")
    w.add_argument("--rates", default="", help="open loop: fixed calls/s, e.g. 100,500 (default: none)")
    w.add_argument("--max-in-flight", type=int, default=1000, help="open loop: cap before calls are dropped")
    w.add_argument("--sign-key-spec", default="EC_P256", choices=("EC_P256", "RSA_2048"))
    w.add_argument("--key-id", help="use this AES_256 key instead of creating one")
    w.add_argument("--verify", action="store_true", help="check every answer (a fast wrong answer is an error)")
    w.add_argument("--client-processes", type=int, default=1, help="loader processes (default 1)")
    w.add_argument("--connections", type=int, default=8,
                   help="gRPC connections per loader, and REST ones in the open loop (default 8); a REST closed loop "
                   "opens one per caller")  # fmt: skip
    w.add_argument("--timeout", default="10s", help="per call (default 10s)")
    r = p.add_argument_group("raw token beside the gateway (--with-raw)")
    r.add_argument("--with-raw", action="store_true", help="also run bench p11 on the gateway's token")
    r.add_argument("--data-dir", type=Path, help="the gateway's data dir (managed SoftHSM2 token and PIN file)")
    r.add_argument("--module", help="or: the PKCS#11 module the gateway uses")
    r.add_argument("--token-label", help="and its token label")
    common.add_pin_options(p)
    common.add_run_options(p)
    p.set_defaults(run=main)


def _raw(args: argparse.Namespace) -> RawToken | None:
    from gateway.bench.gw.setup import RawToken

    pin = common.read_pin(args)
    if args.start or not args.with_raw:
        return None
    if args.data_dir:
        try:
            return RawToken.of_data_dir(args.data_dir)
        except (OSError, PermissionError) as exc:
            raise UsageError(f"--data-dir: {exc}") from None
    if args.module and args.token_label and pin:
        return RawToken(args.module, args.token_label, pin)
    raise UsageError("--with-raw on a running gateway needs --data-dir, or --module, --token-label and a PIN")


def _xks(args: argparse.Namespace) -> tuple[str | None, str]:
    """(XKS base URL, "ACCESS_KEY_ID:SECRET") from --xks-config (owner-only, like a token file) and --xks-url."""
    if not args.xks_config:
        return args.xks_url, ""
    from gateway.secret_files import read_secret

    try:
        config = json.loads(read_secret(Path(args.xks_config)))
        path = config["XksProxyUriPath"]
        cred = config["XksProxyAuthenticationCredential"]
        credential = f"{cred['AccessKeyId']}:{cred['RawSecretAccessKey']}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--xks-config: not a readable XKS proxy configuration file: {exc}") from None
    base = args.xks_url or (args.rest_url.rstrip("/") + path if args.rest_url else None)
    if not base:
        raise UsageError("--xks-config needs --rest-url (or --xks-url)")
    return base, credential


def settings(args: argparse.Namespace) -> object:
    from gateway.bench.gw.drivers import TRANSPORTS
    from gateway.bench.gw.ops import OPERATIONS, Endpoint
    from gateway.bench.gw.runner import GwSettings

    raw = _raw(args)
    transports = [t for t in args.transports.split(",") if t]
    operations = [o for o in args.operations.split(",") if o]
    if not transports or set(transports) - set(TRANSPORTS):
        raise UsageError(f"--transports: choose from {', '.join(TRANSPORTS)}")
    if not operations or set(operations) - set(OPERATIONS):
        raise UsageError(f"--operations: choose from {', '.join(OPERATIONS)}")
    endpoint = None
    if not args.start:
        target = args.target or os.environ.get("KMSGW_TARGET")
        token_file = args.token_file or os.environ.get("KMSGW_TOKEN_FILE")
        if not target:
            raise UsageError("give --target HOST:PORT of a running gateway, or --start")
        if not token_file:
            raise UsageError("the bearer token: --token-file FILE (mode 0600) or KMSGW_TOKEN_FILE")
        from gateway.client.channel import read_token_file

        try:
            token = read_token_file(token_file)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--token-file: {exc}") from None
        xks_url, xks_credential = _xks(args)
        endpoint = Endpoint(target, args.rest_url, args.project_id, token, args.ca_file, xks_url, xks_credential)
    elif args.target or args.rest_url:
        raise UsageError("--start runs its own gateway: drop --target / --rest-url")
    payloads = common.int_list(args.payload, "--payload", 1, 4096)
    return GwSettings(
        endpoint=endpoint, workers=common.int_list(args.workers, "--workers", 1, 64), config=args.config,
        transports=transports, operations=operations, payloads=payloads,
        concurrency=common.int_list(args.concurrency, "--concurrency", 1, 4096),
        batch_sizes=common.int_list(args.batch_sizes, "--batch-sizes", 1, 1000) if args.batch_sizes else [],
        batch_concurrency=common.int_list(args.batch_concurrency, "--batch-concurrency", 1, 1024),
        rates=common.float_list(args.rates, "--rates") if args.rates else [], max_in_flight=max(1, args.max_in_flight),
        sign_spec=args.sign_key_spec, key_id=args.key_id, verify=args.verify,
        duration=common.seconds(args.duration, "--duration", 0.01, 3600),
        warmup=common.seconds(args.warmup, "--warmup", 0, 600), repeat=max(1, min(100, args.repeat)),
        p99_budget_us=common.micros(args.p99_budget, "--p99-budget"),
        client_processes=max(1, min(64, args.client_processes)), connections=max(1, args.connections),
        timeout=common.seconds(args.timeout, "--timeout", 0.1, 600), with_raw=args.with_raw, raw=raw,
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from gateway.bench.gw.runner import GwSettings, run_gateway, total_runs
    from gateway.bench.report.tables import run_text
    from gateway.bench.result import write_json

    try:
        s = settings(args)
    except UsageError as exc:
        return common.fail(str(exc))
    assert isinstance(s, GwSettings)
    try:
        with common.progress(total_runs(s), not args.no_progress) as tick:
            run = run_gateway(s, common.command_line(), tick)
    except RuntimeError as exc:
        return common.fail(str(exc).splitlines()[0], common.EXIT_FAILED)
    if args.out:
        write_json(run, args.out)
    print(json.dumps(run, indent=1) if args.json else run_text(run))
    if args.out:
        print(f"kmsgw: wrote {args.out}", file=sys.stderr)
    return common.EXIT_FAILED if run["summary"]["failed"] else common.EXIT_OK
