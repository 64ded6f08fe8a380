"""What the commands that talk to a running gateway share: connection options, the token, errors.

The token comes from ``--token-file`` (or ``KMSGW_TOKEN_FILE``), a file only its owner may read,
or from the ``KMSGW_TOKEN`` environment variable; never from argv, where ``ps`` would show it.
With mutual TLS a client certificate bound to a credential (``kmsgw certificates bind``) may
authenticate on its own.

Exit codes (docs/client.md): 0 success, 1 the gateway refused the request (KMS code printed),
2 usage or local problem, 3 the gateway could not be reached in time, 4 the input is not an intact
encrypted file (or is under another key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_BAD_FILE = 0, 1, 2, 3, 4
DEFAULT_TARGET = "127.0.0.1:50051"


def add_remote(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("gateway connection")
    g.add_argument("--target", help=f"gateway gRPC HOST:PORT (env KMSGW_TARGET, default {DEFAULT_TARGET})")
    g.add_argument(
        "--token-file", help="file holding the bearer token, mode 0600 (env KMSGW_TOKEN_FILE; or KMSGW_TOKEN)"
    )
    g.add_argument("--ca-file", help="CA certificate (PEM) that signed the gateway's: enables TLS")
    g.add_argument("--cert-file", help="client certificate (PEM) for mutual TLS")
    g.add_argument("--key-file", help="client private key (PEM, mode 0600) for mutual TLS")
    g.add_argument("--server-name", help="name to check in the gateway's certificate (default: the target host)")
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt (default 30)")
    g.add_argument("--retries", type=int, default=5, help="extra attempts when the gateway is unavailable (default 5)")


def open_client(args: argparse.Namespace) -> Any:
    """A KmsClient from the options and environment; ValueError/OSError for a bad token source."""
    from gateway.client import KmsClient

    target = args.target or os.environ.get("KMSGW_TARGET") or DEFAULT_TARGET
    token_file = args.token_file or os.environ.get("KMSGW_TOKEN_FILE")
    token = None if token_file else os.environ.get("KMSGW_TOKEN") or None
    if not token_file and not token and not args.cert_file:  # a bound client certificate may stand for a token
        raise ValueError("no token: use --token-file FILE (mode 0600) or the KMSGW_TOKEN environment variable")
    return KmsClient(
        target,
        token=token,
        token_file=token_file,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        server_name=args.server_name,
        timeout=args.timeout,
        retries=max(0, args.retries),
    )


def run_remote(args: argparse.Namespace, body: Callable[[Any], int]) -> int:
    """Open a client, run ``body(client)``, and turn every failure into one stderr line and an exit code."""
    from gateway.client import EnvelopeError, KmsClientError

    try:
        client = open_client(args)
    except (ValueError, OSError) as exc:
        return error(str(exc), EXIT_USAGE)
    try:
        with client:
            return body(client)
    except KmsClientError as exc:
        if exc.unreachable:
            return error(f"gateway {client.target} unreachable ({exc.status.name}): {exc.message}", EXIT_UNREACHABLE)
        return error(f"{exc.code or exc.status.name} ({exc.status.name}): {exc.message}", EXIT_REFUSED)
    except EnvelopeError as exc:
        return error(str(exc), EXIT_BAD_FILE)
    except (OSError, ValueError) as exc:
        return error(str(exc), EXIT_USAGE)


def error(message: str, code: int) -> int:
    print(f"kmsgw: {message}", file=sys.stderr)
    return code


def print_json(value: Any) -> None:
    print(json.dumps(value, sort_keys=True))


def message_dict(msg: Any) -> dict[str, Any]:
    """A flat protobuf message as a dict of every field (numbers stay numbers, unlike proto JSON)."""
    return {f.name: getattr(msg, f.name) for f in msg.DESCRIPTOR.fields}
