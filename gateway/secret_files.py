"""Secret files (PINs, keys): created owner-only, written durably, refused when others can read them.

A leaf module: anything may import it, it imports nothing of the gateway.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_secret(path: Path, value: str) -> None:
    """Create a file readable by its owner only (0600 from the start, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
        f.flush()
        os.fsync(f.fileno())  # durable before it is renamed into place
    os.chmod(path, 0o600)


def read_secret(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and not from_systemd_credentials(path):
        raise PermissionError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    return path.read_text().strip()


def from_systemd_credentials(path: Path | str) -> bool:
    """True for a file in the unit's ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``).

    systemd 254+ grants the service user access to those files by an ACL, which shows as group
    bits in the mode; the directory itself is private to the unit and read-only, so the
    owner-only check of other secret files does not apply there.
    """
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not creds:
        return False
    try:
        return Path(path).resolve().is_relative_to(Path(creds).resolve())
    except OSError:
        return False


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
