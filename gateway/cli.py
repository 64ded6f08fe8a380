"""`kmsgw`: the command line. Each command group is a module in ``gateway/commands``.

A command module defines ``register(sub)``, adding its parsers to the top-level subparsers and
binding each leaf to its handler with ``set_defaults(run=handler)``; a handler takes the parsed
arguments and returns the exit code. Adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from gateway import commands


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kmsgw", description="KMS gateway over a PKCS#11 token")
    sub = root.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"gateway.commands.{info.name}").register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from gateway.store.factory import StoreUnavailable

    try:
        return int(args.run(args))
    except StoreUnavailable as exc:  # database down or refusing us: one line, no traceback
        print(f"kmsgw: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
