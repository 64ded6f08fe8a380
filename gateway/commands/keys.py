"""`kmsgw key ...`: master-key lifecycle on a running gateway, over gRPC. Output: JSON on stdout."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.commands._remote import add_remote, message_dict, print_json, run_remote


def register(sub: argparse._SubParsersAction) -> None:
    key = sub.add_parser("key", help="create, list, describe, enable, disable or delete master keys on a gateway")
    key_sub = key.add_subparsers(dest="action", required=True)

    p = key_sub.add_parser("create", help="create a master key; prints its key info")
    p.add_argument("alias")
    p.add_argument("--description", default="")
    p.add_argument("--key-spec", default="", help="AES_256 (default), RSA_2048, EC_P256, ...")
    p.add_argument("--key-usage", default="", help="ENCRYPT_DECRYPT or SIGN_VERIFY (default: by spec)")
    p.add_argument("--origin", default="", help="kms (default) or external (bring your own key)")
    _leaf(p, _create)

    p = key_sub.add_parser("list", help="list every key of the token's project")
    p.add_argument("--key-state", type=int, default=0, help="only keys in this state (1..5)")
    _leaf(p, _list)

    for action, fn, text in (
        ("describe", _describe, "print a key's info"),
        ("enable", _enable, "enable a disabled key"),
        ("disable", _disable, "disable a key (it refuses crypto until enabled)"),
        ("cancel-deletion", _cancel_deletion, "cancel a scheduled deletion (the key comes back disabled)"),
    ):
        p = key_sub.add_parser(action, help=text)
        p.add_argument("key_id")
        _leaf(p, fn)

    p = key_sub.add_parser("schedule-deletion", help="delete a key after a waiting period")
    p.add_argument("key_id")
    p.add_argument("--pending-days", type=int, default=7, help="7..1096 (default 7)")
    _leaf(p, _schedule_deletion)


def _leaf(p: argparse.ArgumentParser, fn: Any) -> None:
    add_remote(p)
    p.set_defaults(run=lambda args: run_remote(args, lambda client: fn(client, args)))


def _create(client: Any, args: argparse.Namespace) -> int:
    info = client.create_key(
        args.alias,
        description=args.description,
        key_spec=args.key_spec,
        key_usage=args.key_usage,
        origin=args.origin,
    )
    print_json(message_dict(info))
    return 0


def _list(client: Any, args: argparse.Namespace) -> int:
    keys = [message_dict(k) for k in client.iter_keys(key_state=args.key_state)]
    print_json({"keys": keys, "total": len(keys)})
    return 0


def _describe(client: Any, args: argparse.Namespace) -> int:
    print_json(message_dict(client.describe_key(args.key_id)))
    return 0


def _enable(client: Any, args: argparse.Namespace) -> int:
    print_json(message_dict(client.enable_key(args.key_id)))
    return 0


def _disable(client: Any, args: argparse.Namespace) -> int:
    print_json(message_dict(client.disable_key(args.key_id)))
    return 0


def _schedule_deletion(client: Any, args: argparse.Namespace) -> int:
    print_json(message_dict(client.schedule_key_deletion(args.key_id, args.pending_days)))
    return 0


def _cancel_deletion(client: Any, args: argparse.Namespace) -> int:
    print_json(message_dict(client.cancel_key_deletion(args.key_id)))
    return 0
