"""SoftHSM2 provisioning on first start: a config, an initialized token, random PINs.

PINs never go through argv (visible in /proc) or logs: softhsm2-util reads them from a
pseudo-terminal we answer, and they are written to files created with mode 0600.

Several processes may start at once on one empty data dir (workers, nodes, a CLI command beside
`serve`): an exclusive ``flock`` on ``bootstrap.lock`` lets one of them initialize, and the others
re-check once they hold the lock and find the work done — one token, one set of PINs. The PINs are
written as ``*.pin.partial`` before the token is initialized and renamed into place after it, so a
first start killed half-way is finished by the next one instead of leaving a token nobody can open.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import secrets
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.secret_files import fsync_dir, read_secret, write_atomic, write_secret

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


LOCK_FILE = "bootstrap.lock"  # never removed: removing a lock file races with its next taker


LOCK_TIMEOUT_S = 120.0


def ensure_softhsm(data_dir: Path, token_label: str = DEFAULT_TOKEN_LABEL) -> Path:
    """Create ``softhsm2.conf``, the token dir and an initialized token unless they exist.

    Returns the config path. Idempotent, and safe when several processes call it at once: the
    first to take the lock initializes, the others find ``hsm.pin`` (written last) and return.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = data_dir / "softhsm2.conf"
    if _initialized(data_dir):
        guard_token_files(data_dir)
        return conf  # the usual start: no lock taken
    with first_start_lock(data_dir):
        if not _initialized(data_dir):  # re-check: another process may have finished while we waited
            _initialize(data_dir, conf, token_label)
    guard_token_files(data_dir)
    return conf


TOKEN_BACKUPS = "token-backups"  # noqa: S105 - a directory name, not a secret


def guard_token_files(data_dir: Path) -> list[str]:
    """Keep a copy of each managed token's ``token.object``; put it back when a crash emptied it.

    SoftHSM2 2.6 rewrites ``token.object`` in place (truncate, then write) at every C_Login, to
    clear the PIN-retry flags. A process killed (kill -9, power loss) between the two leaves the
    file empty, and with it the token's label and wrapped PIN keys: the token is gone and every key
    with it (seen in tests/system/test_crash_safety.py). Beyond the label and the PIN-wrapped keys, which
    the gateway never changes, the file holds only retry flags and a write counter, so the copy
    taken once the token was whole restores it (tests/system/test_first_start.py). Returns the token
    directories repaired.
    """
    backups = data_dir / TOKEN_BACKUPS
    repaired = []
    for obj in sorted((data_dir / "tokens").glob("*/token.object")):
        backup = backups / f"{obj.parent.name}.token.object"
        if obj.stat().st_size == 0 and backup.exists():
            time.sleep(0.2)  # a live process mid-rewrite refills it within microseconds
            if obj.stat().st_size == 0:
                write_atomic(obj, backup.read_bytes())
                repaired.append(obj.parent.name)
                log.warning(
                    "token.object was empty after a crash; restored from its copy", extra={"token_dir": str(obj.parent)}
                )
        elif not backup.exists():
            first = obj.read_bytes()
            time.sleep(0.05)
            if first and obj.read_bytes() == first:  # not caught mid-rewrite by another process
                backups.mkdir(exist_ok=True, mode=0o700)
                write_atomic(backup, first)
    return repaired


def _initialized(data_dir: Path) -> bool:
    return (data_dir / "softhsm2.conf").exists() and (data_dir / "hsm.pin").exists()


@contextmanager
def first_start_lock(data_dir: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<data_dir>/bootstrap.lock`` (released when the fd closes, also
    when the process dies). Polls without blocking so a stuck holder gives a clear error."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{data_dir / LOCK_FILE} is held by another process") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _initialize(data_dir: Path, conf: Path, token_label: str) -> None:
    """Write the config, the PINs (as ``.partial``), initialize the token, then move the PINs into place.

    Called with the lock held. ``hsm.pin`` appears last, by rename: its presence means done.
    """
    tokens = data_dir / "tokens"
    tokens.mkdir(exist_ok=True, mode=0o700)
    conf.write_text(
        f"# Written by kmsgw on first start.\n"
        f"directories.tokendir = {tokens.resolve()}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    so_partial, user_partial = data_dir / "so.pin.partial", data_dir / "hsm.pin.partial"
    # A crash between the two renames below leaves so.pin in place and hsm.pin.partial beside it.
    so_source = so_partial if so_partial.exists() else data_dir / "so.pin"
    resumed = user_partial.exists() and so_source.exists()
    initialized = token_label in token_labels(conf)
    if resumed:  # a first start died after writing these: its token, if any, has these PINs
        so_pin, user_pin = read_secret(so_source), read_secret(user_partial)
    elif initialized:  # checked before writing any PIN file, so the next start refuses too
        raise RuntimeError(
            f"a token labelled {token_label!r} exists in {tokens} but {data_dir / 'hsm.pin'} is missing: "
            "restore the PIN file, or move the tokens directory away to start afresh"
        )
    else:
        so_pin, user_pin = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        write_secret(so_partial, so_pin)
        write_secret(user_partial, user_pin)
    if not initialized:
        _init_token(conf, token_label, so_pin, user_pin)
    if so_partial.exists():
        os.replace(so_partial, data_dir / "so.pin")
    os.replace(user_partial, data_dir / "hsm.pin")
    fsync_dir(data_dir)
    log.info(
        "initialized SoftHSM2 token",
        extra={"token_label": token_label, "data_dir": str(data_dir), "resumed": resumed},
    )


def token_labels(conf: Path) -> list[str]:
    """Labels of the initialized tokens a SoftHSM2 config sees (``softhsm2-util --show-slots``)."""
    out = subprocess.run(
        [_softhsm_util(), "--show-slots"],
        env=dict(os.environ, SOFTHSM2_CONF=str(conf)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    labels = []
    for line in out.splitlines():
        name, _, value = line.strip().partition(":")
        if name == "Label" and value.strip():
            labels.append(value.strip())
    return labels


def _softhsm_util() -> str:
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise FileNotFoundError("softhsm2-util not found: install Debian package softhsm2")
    return tool


def _init_token(conf: Path, label: str, so_pin: str, user_pin: str) -> None:
    tool = _softhsm_util()
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
