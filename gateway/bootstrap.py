"""First start with an empty data dir: a SoftHSM2 config, an initialized token, random PINs.

PINs never go through argv (visible in /proc) or logs: softhsm2-util reads them from a
pseudo-terminal we answer, and they are written to files created with mode 0600.
"""

from __future__ import annotations

import logging
import os
import pty
import secrets
import select
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
DEFAULT_TOKEN_LABEL = "kmsgw"  # noqa: S105 - a label, not a secret


def find_softhsm_module() -> str:
    for candidate in SOFTHSM_MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("libsofthsm2.so not found: install Debian package softhsm2")


def write_secret(path: Path, value: str) -> None:
    """Create a file readable by its owner only (0600 from the start, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)


def read_secret(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    return path.read_text().strip()


def ensure_softhsm(data_dir: Path, token_label: str = DEFAULT_TOKEN_LABEL) -> Path:
    """Create ``softhsm2.conf``, the token dir and an initialized token unless they exist.

    Returns the config path. Idempotent: an existing config is left as it is.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = data_dir / "softhsm2.conf"
    pin_file = data_dir / "hsm.pin"
    if conf.exists() and pin_file.exists():
        return conf
    tokens = data_dir / "tokens"
    tokens.mkdir(exist_ok=True, mode=0o700)
    conf.write_text(
        f"# Written by kmsgw on first start.\n"
        f"directories.tokendir = {tokens.resolve()}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    so_pin = secrets.token_urlsafe(24)
    user_pin = secrets.token_urlsafe(24)
    _init_token(conf, token_label, so_pin, user_pin)
    write_secret(data_dir / "so.pin", so_pin)
    write_secret(pin_file, user_pin)
    log.info("initialized SoftHSM2 token", extra={"token_label": token_label, "data_dir": str(data_dir)})
    return conf


def _init_token(conf: Path, label: str, so_pin: str, user_pin: str) -> None:
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise FileNotFoundError("softhsm2-util not found: install Debian package softhsm2")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    answers = [so_pin, so_pin, user_pin, user_pin]
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [tool, "--init-token", "--free", "--label", label],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    transcript = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
            if chunk.rstrip().endswith(b":") and answers:
                os.write(master, answers.pop(0).encode() + b"\n")
    finally:
        os.close(master)
        rc = proc.wait(timeout=30)
    if rc != 0 or answers:
        # The transcript shows prompts and asterisks only, never the PINs.
        raise RuntimeError(f"softhsm2-util --init-token failed (rc={rc}): {transcript.decode(errors='replace')}")
