"""What several commands share: the --config/--data-dir options and opening the runtime."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway import config as config_mod
from gateway import logs
from gateway.config import Config


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file (see deploy/kmsgw.example.toml)")
    p.add_argument("--data-dir", help="state directory (default ./var)")


def load_config(args: argparse.Namespace, **overrides: Any) -> Config:
    """The configuration (file, then options); logs at WARNING until a command asks for more."""
    cfg = config_mod.load(args.config, data_dir=args.data_dir, **overrides)
    logs.setup("WARNING")
    return cfg


def fail(message: str, code: int = 2) -> int:
    print(f"kmsgw: {message}", file=sys.stderr)
    return code
