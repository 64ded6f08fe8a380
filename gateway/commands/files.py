"""`kmsgw encrypt` / `kmsgw decrypt`: files by envelope encryption (gateway.client.envelope).

A data key per file comes from the gateway; the file itself is encrypted here, in chunks, and
never leaves this machine. A progress bar goes to stderr for large files on a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gateway.commands._remote import EXIT_USAGE, add_remote, error, print_json, run_remote

PROGRESS_MIN_BYTES = 8 * 1024 * 1024  # smaller files finish before a bar would tell anything


def register(sub: argparse._SubParsersAction) -> None:
    enc = sub.add_parser("encrypt", help="encrypt a file under a fresh data key of a master key")
    enc.add_argument("--key-id", required=True, help="the master key")
    enc.add_argument(
        "--context", action="append", default=[], metavar="KEY=VALUE", help="encryption context (repeatable)"
    )
    _file_args(enc)
    enc.set_defaults(run=_encrypt)

    dec = sub.add_parser("decrypt", help="decrypt a file written by `kmsgw encrypt`")
    dec.add_argument("--key-id", help="refuse a file encrypted under any other master key")
    _file_args(dec)
    dec.set_defaults(run=_decrypt)


def _file_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_remote(p)


def _encrypt(args: argparse.Namespace) -> int:
    context = {}
    for item in args.context:
        name, sep, value = item.partition("=")
        if not sep or not name:
            return error(f"--context wants KEY=VALUE, got {item!r}", EXIT_USAGE)
        context[name] = value

    def body(client: Any) -> int:
        from gateway.client import encrypt_file

        with _progress(args, "encrypt") as progress:
            info = encrypt_file(
                client, args.key_id, args.input, args.output, progress, context=context, overwrite=args.force
            )
        print_json({"key_id": info.key_id, "plaintext_bytes": info.plaintext_bytes, "output": args.output})
        return 0

    return run_remote(args, body)


def _decrypt(args: argparse.Namespace) -> int:
    def body(client: Any) -> int:
        from gateway.client import decrypt_file

        with _progress(args, "decrypt") as progress:
            info = decrypt_file(client, args.input, args.output, progress, key_id=args.key_id, overwrite=args.force)
        print_json({"key_id": info.key_id, "plaintext_bytes": info.plaintext_bytes, "output": args.output})
        return 0

    return run_remote(args, body)


@contextmanager
def _progress(args: argparse.Namespace, desc: str) -> Iterator[Any]:
    """A tqdm update function on stderr, or None when quiet, not a terminal, or a small file."""
    size = os.path.getsize(args.input)
    if args.quiet or not sys.stderr.isatty() or size < PROGRESS_MIN_BYTES:
        yield None
        return
    from tqdm import tqdm

    term = os.get_terminal_size(sys.stderr.fileno())  # a fresh pty may report 0x0: tqdm would then print nothing
    shape = {"ncols": term.columns or 80, "nrows": term.lines or 24}
    with tqdm(total=size, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, **shape) as bar:
        yield bar.update
