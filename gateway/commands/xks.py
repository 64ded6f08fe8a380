"""`kmsgw xks`: AWS KMS External Key Store keystores, their SigV4 credentials and key mappings.

Like `kmsgw credentials`, each command opens the store and the token itself (``--config``,
``--data-dir``, ``--store``), prints one JSON object on one line and exits 0; a usage or validation
problem is one line on stderr and exit 2. Running servers see a change within 5 s, no restart.
``keystore create`` and ``credentials create`` print the proxy configuration file the AWS KMS
console imports (the secret is shown this once). docs/xks.md walks through the whole set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from gateway.commands._common import add_common, fail, load_config
from gateway.core.xks.names import USAGE_CHOICES


class _OneLineParser(argparse.ArgumentParser):
    """A usage problem as one line on stderr (exit 2), like every other refusal of these commands."""

    def error(self, message: str) -> NoReturn:
        print(f"kmsgw: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def register(sub: argparse._SubParsersAction) -> None:
    xks = sub.add_parser("xks", help="AWS KMS External Key Store: keystores, credentials, key mappings")
    groups = xks.add_subparsers(dest="xks_group", required=True, parser_class=_OneLineParser)

    keystore = groups.add_parser("keystore", help="keystores: a URI path prefix bound to a project")
    ks = keystore.add_subparsers(dest="action", required=True, parser_class=_OneLineParser)
    _leaf(ks, "create", "make a keystore and its first credential; print the proxy configuration file", create_keystore)
    _prefix(ks.choices["create"])
    ks.choices["create"].add_argument("--project-id", required=True, help="the project whose keys it may export")
    _leaf(ks, "list", "print every keystore", list_keystores)
    _prefix(_leaf(ks, "delete", "delete a keystore with its credentials and key mappings", delete_keystore))

    creds = groups.add_parser("credentials", help="SigV4 credentials of a keystore (several at once: rotation)")
    cs = creds.add_subparsers(dest="action", required=True, parser_class=_OneLineParser)
    _prefix(_leaf(cs, "create", "another credential; print the proxy configuration file", create_credential))
    _leaf(cs, "delete", "delete a credential", delete_credential).add_argument("--access-key-id", required=True)

    key = groups.add_parser("key", help="gateway keys a keystore exports (external key id -> key id)")
    kk = key.add_subparsers(dest="action", required=True, parser_class=_OneLineParser)
    add = _prefix(_leaf(kk, "add", "map a gateway AES_256 key (again: replace the mapping)", add_key))
    add.add_argument("--key-id", required=True, help="the gateway key id (in the keystore's project)")
    add.add_argument("--xks-key-id", help="the external key id AWS KMS will use (default: the key id)")
    add.add_argument("--usage", default="ENCRYPT,DECRYPT", help=f"one of {', '.join(USAGE_CHOICES)}")
    rm = _prefix(_leaf(kk, "remove", "remove a mapping", remove_key))
    rm.add_argument("--xks-key-id", required=True)
    _prefix(_leaf(kk, "list", "print a keystore's mappings", list_keys))


def _leaf(sub: argparse._SubParsersAction, name: str, help_text: str, run: Callable) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    add_common(parser)
    parser.set_defaults(run=run)
    return parser


def _prefix(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--uri-prefix", required=True, help="the path before /kms/xks/v1 (may be empty)")
    return parser


def create_keystore(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: asyncio.run(a.create_keystore(args.uri_prefix, args.project_id)))


def list_keystores(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: a.list_keystores())


def delete_keystore(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: a.delete_keystore(args.uri_prefix))


def create_credential(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: asyncio.run(a.create_credential(args.uri_prefix)))


def delete_credential(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: a.delete_credential(args.access_key_id))


def add_key(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: a.add_key(args.uri_prefix, args.key_id, args.xks_key_id, args.usage))


def remove_key(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: a.remove_key(args.uri_prefix, args.xks_key_id))


def list_keys(args: argparse.Namespace) -> int:
    return _with_admin(args, lambda a: a.list_keys(args.uri_prefix))


def _check(args: argparse.Namespace) -> None:
    """What can be refused without the store or the token: refused before either opens."""
    from gateway.core.validate import KEY_ID_RE
    from gateway.core.xks import names

    if getattr(args, "uri_prefix", None) is not None:
        names.normalize_prefix(args.uri_prefix)
    if getattr(args, "usage", None) is not None:
        names.parse_usage(args.usage)
    if getattr(args, "key_id", None) is not None and not KEY_ID_RE.fullmatch(args.key_id):
        raise ValueError("--key-id must be a gateway key id (a lower-case UUID)")
    if getattr(args, "xks_key_id", None) is not None:
        names.xks_key_id(args.xks_key_id)


def _with_admin(args: argparse.Namespace, work: Callable[[Any], dict[str, Any]]) -> int:
    from gateway.app.runtime import Runtime
    from gateway.core.xks import XksAdmin

    try:
        _check(args)
    except ValueError as exc:
        return fail(str(exc))
    rt = Runtime.open(load_config(args))
    try:
        out = work(XksAdmin(rt.store, rt.kms.hsm, rt.kms.clock))
    except ValueError as exc:
        return fail(str(exc))
    finally:
        rt.close()
    print(json.dumps(out))
    return 0
