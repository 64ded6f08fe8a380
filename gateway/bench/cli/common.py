"""What the bench commands share: list and duration parsing, the PIN sources, the progress bar.

A PIN never comes from argv (``ps`` shows every process's arguments to every local user): only
from a file its owner alone may read (``--pin-file``) or an environment variable (``--pin-env``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.secret_files import read_secret

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad option or input: one line on stderr, exit 2."""


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"kmsgw: {message}", file=sys.stderr)
    return code


def int_list(text: str, what: str, low: int = 1, high: int = 1 << 20) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated integers, got {text!r}") from None
    if not values or any(not low <= v <= high for v in values):
        raise UsageError(f"{what}: every value must be in {low}..{high}, got {text!r}")
    return sorted(dict.fromkeys(values))


def float_list(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"{what}: every value must be positive, got {text!r}")
    return values


_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0}


def seconds(text: str, what: str, low: float = 0.0, high: float = 86400.0) -> float:
    """``5``, ``5s``, ``300ms``, ``2m``."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|ms|us|µs|m)?\s*", text)
    if not m:
        raise UsageError(f"{what}: expected a duration such as 5, 5s or 300ms, got {text!r}")
    value = float(m.group(1)) * _UNITS[m.group(2) or ""]
    if not low <= value <= high:
        raise UsageError(f"{what}: must be in {low:g}..{high:g} s, got {text!r}")
    return value


def micros(text: str | None, what: str) -> float | None:
    """A latency budget (``2ms``, ``500us``; a bare number is milliseconds) in microseconds."""
    if text is None:
        return None
    if re.fullmatch(r"\s*[0-9]*\.?[0-9]+\s*", text):
        text = text.strip() + "ms"
    return seconds(text, what, 1e-6, 3600.0) * 1e6


def add_pin_options(p: argparse.ArgumentParser, required_note: str = "") -> None:
    g = p.add_argument_group("PIN (never on the command line)")
    g.add_argument("--pin-file", type=Path, help="file holding the user PIN, mode 0600" + required_note)
    g.add_argument("--pin-env", metavar="VAR", help="environment variable holding the user PIN")
    # Present only to refuse them with a clear message instead of "unrecognized arguments".
    g.add_argument("--pin", nargs="?", const="", help=argparse.SUPPRESS)
    g.add_argument("--so-pin", nargs="?", const="", help=argparse.SUPPRESS)


def refuse_argv_pin(args: argparse.Namespace) -> None:
    if getattr(args, "pin", None) is not None or getattr(args, "so_pin", None) is not None:
        raise UsageError(
            "a PIN on the command line is visible to every local user (ps); use --pin-file FILE (mode 0600) "
            "or --pin-env VAR"
        )


def read_pin(args: argparse.Namespace) -> str | None:
    """The PIN from --pin-file or --pin-env (None when neither is given)."""
    refuse_argv_pin(args)
    if args.pin_file and args.pin_env:
        raise UsageError("give --pin-file or --pin-env, not both")
    if args.pin_file:
        try:
            return read_secret(args.pin_file)
        except FileNotFoundError:
            raise UsageError(f"--pin-file {args.pin_file}: no such file") from None
        except PermissionError as exc:
            raise UsageError(f"--pin-file: {exc}") from None
    if args.pin_env:
        value = os.environ.get(args.pin_env)
        if not value:
            raise UsageError(f"--pin-env {args.pin_env}: the variable is unset or empty")
        return value
    return None


def add_run_options(p: argparse.ArgumentParser, default_duration: str = "5s") -> None:
    g = p.add_argument_group("run")
    g.add_argument("--duration", default=default_duration, help=f"measured time per cell (default {default_duration})")
    g.add_argument("--warmup", default="1s", help="untimed warm-up before each cell (default 1s)")
    g.add_argument("--repeat", type=int, default=1, help="repeats per cell, for the mean and its CI95 (default 1)")
    g.add_argument("--p99-budget", help="latency budget for the knee (e.g. 2ms; default 5 x the lowest-load p99)")
    g.add_argument("--out", type=Path, help="write the result JSON here (schema kmsgw.bench/1)")
    g.add_argument("--json", action="store_true", help="print the result JSON on stdout instead of the table")
    g.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


@contextmanager
def progress(total: int, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A tqdm bar on stderr (only on a terminal); yields ``tick(description)``."""
    from tqdm import tqdm

    bar = tqdm(total=total, disable=None if enabled else True, file=sys.stderr, unit="cell", dynamic_ncols=True)

    def tick(text: str) -> None:
        bar.set_description_str(text[:40])
        bar.update(1)

    try:
        yield tick
    finally:
        bar.close()


def command_line() -> list[str]:
    """The command as typed, for the result file (no secret can be in it: none is accepted in argv)."""
    return ["kmsgw", *sys.argv[1:]]
