"""What several commands share: the --config/--data-dir options and opening the runtime."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.app import config as config_mod
from gateway.app.config import Config
from gateway.app.store_wiring import settle_store
from gateway.store.url import has_password
from gateway.telemetry import logs


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file (see deploy/kmsgw.example.toml)")
    p.add_argument("--data-dir", help="state directory (default ./var)")
    p.add_argument(
        "--store",
        metavar="URL",
        help="metadata store: sqlite:///abs/path, sqlite:relative (to the data dir; default sqlite:kms.db),"
        " postgresql://user@host:port/db (password: see docs/postgres.md, not in this URL)",
    )


def load_config(args: argparse.Namespace, **overrides: Any) -> Config:
    """The configuration (file, then options, then the data dir's store record); logs at WARNING
    until a command asks for more."""
    store = getattr(args, "store", None)
    if store and has_password(store):
        print(
            "kmsgw: warning: a password in --store is visible to every local user (ps);"
            " use a passfile or [postgres] password_file",
            file=sys.stderr,
        )
    cfg = config_mod.load(args.config, data_dir=args.data_dir, store=store, **overrides)
    logs.setup("WARNING")
    # The data dir's recorded store when none is given; another one is refused here, before the
    # token opens (StoreBindingError: one line, exit 2; gateway/app/store_wiring.py).
    settle_store(cfg, serving=getattr(args, "command", None) == "serve")
    return cfg


def fail(message: str, code: int = 2) -> int:
    print(f"kmsgw: {message}", file=sys.stderr)
    return code
