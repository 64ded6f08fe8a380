"""`kmsgw audit verify [FILE]`: check an audit file's hash chain and MACs (docs/audit.md).

Exit 0 and a one-line summary when the file is intact; exit 1 naming the first bad line and why;
exit 2 when it cannot check (no file, no MAC key). The MAC key is unsealed by the token of the
configured data dir; ``--no-mac`` checks the hash chain alone (e.g. on a copy away from the token).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gateway.commands._common import add_common, fail, load_config

PROGRESS_MIN_BYTES = 64 << 20  # files smaller than this verify without progress lines
PROGRESS_EVERY_S = 2.0


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the request audit trail")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    av = audit_sub.add_parser("verify", help="check an audit file: exit 0 intact, 1 tampered")
    add_common(av)
    av.add_argument("file", nargs="?", help="audit file (default: the configured [audit] path)")
    av.add_argument(
        "--no-mac", action="store_true", help="check the hash chain only, without the token (weaker: see docs/audit.md)"
    )
    av.set_defaults(run=verify)


def verify(args: argparse.Namespace) -> int:
    from gateway.audit import key as audit_key
    from gateway.audit.verify import verify as walk

    cfg = load_config(args)
    path = Path(args.file) if args.file else cfg.audit_path()
    try:
        size = path.stat().st_size
    except OSError as exc:
        return fail(f"cannot read {path}: {exc.strerror}")
    key = None
    if not args.no_mac:
        try:
            key = audit_key.read_for_verify(cfg)
        except (audit_key.AuditKeyError, OSError, ValueError) as exc:
            return fail(f"{exc} (use --data-dir/--config of the gateway that wrote the file, or --no-mac)")
    try:
        report = walk(path, key, _progress(size) if size >= PROGRESS_MIN_BYTES else None)
    except OSError as exc:  # a directory, no read permission, an I/O error: could not check (2), not tampered (1)
        return fail(f"cannot read {path}: {exc.strerror or exc}")
    print(report.summary(path))
    return 0 if report.ok else 1


def _progress(total: int) -> Callable[[int, int], None]:
    started = last = time.monotonic()

    def show(lines: int, nbytes: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_EVERY_S:
            return
        last = now
        rate = nbytes / (now - started) / (1 << 20)
        print(
            f"verified {lines} lines, {nbytes >> 20} of {total >> 20} MiB ({100 * nbytes // total}%), {rate:.0f} MiB/s",
            file=sys.stderr,
            flush=True,
        )

    return show
