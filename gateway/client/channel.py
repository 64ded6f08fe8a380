"""The gRPC channel a client talks over: plaintext, TLS, or mutual TLS; and the bearer token."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import grpc

# Reconnect quickly after a gateway restart: grpc's defaults (1 s, growing to 120 s) would keep a
# channel failing fast for long after the gateway is back; the client's own backoff paces retries.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


def open_channel(
    target: str,
    *,
    ca_file: str | os.PathLike | None = None,
    cert_file: str | os.PathLike | None = None,
    key_file: str | os.PathLike | None = None,
    server_name: str | None = None,
    options: tuple[tuple[str, object], ...] = (),
) -> grpc.Channel:
    """A plaintext channel, or a TLS one as soon as any of the three files is given.

    TLS with ``ca_file`` only: the server's certificate must chain to that CA (without it, to the
    system roots). ``cert_file`` and ``key_file`` together add a client certificate (mTLS).
    ``server_name`` overrides the name checked in the server certificate (default: the target host).
    """
    opts = list(CHANNEL_OPTIONS) + list(options)
    if not (ca_file or cert_file or key_file):
        return grpc.insecure_channel(target, options=opts)
    if bool(cert_file) != bool(key_file):
        raise ValueError("a client certificate needs both cert_file and key_file")
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file),
        private_key=_read(key_file, secret=True),
        certificate_chain=_read(cert_file),
    )
    if server_name:
        opts.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, creds, options=opts)


def read_token_file(path: str | os.PathLike) -> str:
    """The bearer token in a file only its owner may read (mode 0600 or 0400), else ValueError."""
    p = Path(path)
    with open(p, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            perms = f"{stat.S_IMODE(mode):04o}"
            raise ValueError(f"token file {p} is accessible by group or others (mode {perms}); chmod 600")
        token = f.read().decode("ascii", errors="strict").strip()
    if not token:
        raise ValueError(f"token file {p} is empty")
    return token


def _read(path: str | os.PathLike | None, *, secret: bool = False) -> bytes | None:
    if not path:
        return None
    if secret:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"private key file {path} is accessible by group or others; chmod 600")
    return Path(path).read_bytes()
