"""The audit MAC key: 32 random bytes from the token, stored on disk only sealed by the token.

Why: anyone who can edit the audit file can recompute a plain hash chain; an HMAC under a key
that only the token can unseal cannot be recomputed without the token (and its PIN). The key is
sealed with AES-GCM by the gateway's own non-extractable token key (``kmsgw:seal``, the one that
seals credentials' secret keys) and is held unsealed only in the memory of the gateway and of
``kmsgw audit verify``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from gateway.audit.trail import AuditLog
from gateway.core.auth import SEAL_KEY_LABEL
from gateway.hsm.token import TokenSession

SEALED_NAME = "audit-mac.sealed"  # in the data dir, beside the token and the store
KEY_BYTES = 32
_MAGIC = b"KGA1"  # file format version
_IV_BYTES = 12
_AAD = b"kmsgw-audit-mac-key:v1"
T = TypeVar("T")
RunSync = Callable[[Callable[[TokenSession], T]], T]


class AuditKeyError(Exception):
    """The MAC key cannot be read or does not unseal with this token."""


# What this module reads of the gateway's configuration (gateway.app.config.Config has it all). An
# adapter never imports the composition root, so it names only what it needs.
class _AuditSection(Protocol):
    @property
    def enabled(self) -> bool: ...
    @property
    def fsync(self) -> str: ...
    @property
    def fsync_interval_s(self) -> float: ...


class _HsmSection(Protocol):
    @property
    def token_label(self) -> str: ...


class Config(Protocol):
    @property
    def data_dir(self) -> Path: ...
    @property
    def audit(self) -> _AuditSection: ...
    @property
    def hsm(self) -> _HsmSection: ...
    def audit_path(self) -> Path: ...
    def module_path(self) -> str: ...
    def softhsm_conf_path(self) -> Path | None: ...
    def read_pin(self) -> str: ...


def sealed_path(cfg: Config) -> Path:
    return cfg.data_dir / SEALED_NAME


def load_or_create(run_sync: RunSync, path: Path) -> bytes:
    """The MAC key sealed at ``path``, creating it first if there is none (first start).

    Creation is atomic across processes: the sealed key is written to a private temporary
    file and hard-linked into place; a loser of that race reads the winner's key.
    """
    if not path.exists():

        def make(t: TokenSession) -> bytes:
            # The sealing key is made once across processes by bootstrap.ensure_own_keys, which
            # Runtime.open runs first: making it here could race into two objects with one label.
            if not t.has_key(SEAL_KEY_LABEL):
                raise AuditKeyError(f"the token has no {SEAL_KEY_LABEL} key to seal the audit MAC key")
            iv, body = t.gcm_seal(SEAL_KEY_LABEL, t.random(KEY_BYTES), _AAD)
            return _MAGIC + iv + body

        blob = run_sync(make)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            tmp.unlink()
        _fsync_dir(path.parent)  # the link must survive a power loss: lines are MAC'd with this key from now on
    return unseal(run_sync, path.read_bytes())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unseal(run_sync: RunSync, blob: bytes) -> bytes:
    if len(blob) != len(_MAGIC) + _IV_BYTES + KEY_BYTES + 16 or not blob.startswith(_MAGIC):
        raise AuditKeyError("the sealed audit MAC key file is malformed")
    iv, body = blob[len(_MAGIC) : len(_MAGIC) + _IV_BYTES], blob[len(_MAGIC) + _IV_BYTES :]
    key = run_sync(lambda t: t.gcm_open(SEAL_KEY_LABEL, iv, body, _AAD) if t.has_key(SEAL_KEY_LABEL) else None)
    if key is None:
        raise AuditKeyError("the audit MAC key does not unseal with this token")
    return key


def read_for_verify(cfg: Config) -> bytes:
    """Unseal the MAC key outside a running gateway: log in to the token just for this."""
    path = sealed_path(cfg)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise AuditKeyError(f"no audit MAC key at {path}") from None
    conf = cfg.softhsm_conf_path()
    if conf is not None:
        if not conf.exists():
            raise AuditKeyError(f"no SoftHSM2 configuration at {conf}")
        os.environ["SOFTHSM2_CONF"] = str(conf.resolve())
    token = TokenSession(cfg.module_path(), cfg.hsm.token_label, cfg.read_pin())
    token.open()
    try:
        return unseal(lambda job: job(token), blob)
    finally:
        token.close()


def open_audit_log(cfg: Config, run_sync: RunSync) -> AuditLog | None:
    """The configured audit log (None when ``[audit] enabled = false``); its MAC key from the token."""
    if not cfg.audit.enabled:
        return None
    key = load_or_create(run_sync, sealed_path(cfg))
    return AuditLog(cfg.audit_path(), key, fsync=cfg.audit.fsync, fsync_interval_s=cfg.audit.fsync_interval_s)
