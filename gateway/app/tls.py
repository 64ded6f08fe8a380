"""TLS for both listeners, and the client certificate a connection presented.

One ``[tls]`` section switches TLS on for REST and gRPC together: a gateway that serves keys must
not leave one port in plaintext beside an encrypted one. Each process (every ``serve`` worker)
builds its own contexts from the files with :func:`load`, :func:`rest_context` and
:func:`grpc_credentials`.

* REST: our own :class:`ssl.SSLContext`, TLS 1.2 minimum, TLS 1.2 ciphers restricted to ECDHE
  with AES-GCM or ChaCha20-Poly1305 (forward secrecy, AEAD), no compression or renegotiation.
* gRPC: ``grpc.ssl_server_credentials``; grpc's BoringSSL offers TLS 1.2 and 1.3 only and ECDHE
  AEAD suites by default (``tests/system/test_tls.py`` proves TLS 1.1 is refused on both ports).
  grpcio's Python API can only *not ask* for a client certificate or *require and verify* one,
  so ``client_auth = "optional"`` does not ask on gRPC: there callers authenticate with tokens.

A peer certificate reaches the app as the SHA-256 of its DER (:func:`fingerprint`), which
``kmsgw certificates bind`` maps to a credential (``Authenticator.caller_from_certificate``).
"""

from __future__ import annotations

import hashlib
import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

import grpc

from gateway.app.config import TlsConfig
from gateway.secret_files import from_systemd_credentials

CLIENT_AUTH_MODES = ("none", "optional", "required")
# TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher. TLS 1.3 suites are all AEAD.
REST_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
_VERIFY_MODE = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


class TlsConfigError(ValueError):
    """The [tls] section cannot be served as configured; the message says what to fix."""


@dataclass(frozen=True)
class TlsMaterial:
    """The files of a valid [tls] section, read and checked once per process."""

    cert_file: str
    key_file: str
    cert_chain: bytes
    private_key: bytes
    client_ca_file: str
    client_ca: bytes | None
    client_auth: str


def load(cfg: TlsConfig) -> TlsMaterial | None:
    """The checked TLS material, or None when TLS is off; :class:`TlsConfigError` says why not."""
    if not cfg.enabled:
        if cfg.client_auth != "none" or cfg.client_ca_file:  # asked for client certificates: never serve plaintext
            raise TlsConfigError("[tls] client_auth / client_ca_file need cert_file and key_file (TLS is off)")
        return None
    if not cfg.cert_file or not cfg.key_file:
        raise TlsConfigError("[tls] needs both cert_file and key_file")
    if cfg.client_auth not in CLIENT_AUTH_MODES:
        modes = ", ".join(CLIENT_AUTH_MODES)
        raise TlsConfigError(f"[tls] client_auth must be one of {modes}, not {cfg.client_auth!r}")
    if cfg.client_auth != "none" and not cfg.client_ca_file:
        raise TlsConfigError(
            f'[tls] client_auth = "{cfg.client_auth}" needs client_ca_file (the CA of client certificates)'
        )
    _check_private(cfg.key_file)
    chain = _read(cfg.cert_file, "cert_file")
    if _PEM_CERT not in chain:
        raise TlsConfigError(f"[tls] cert_file {cfg.cert_file} holds no PEM certificate")
    ca = _read(cfg.client_ca_file, "client_ca_file") if cfg.client_auth != "none" else None
    if ca is not None and _PEM_CERT not in ca:
        raise TlsConfigError(f"[tls] client_ca_file {cfg.client_ca_file} holds no PEM certificate")
    material = TlsMaterial(
        cfg.cert_file, cfg.key_file, chain, _read(cfg.key_file, "key_file"), cfg.client_ca_file, ca, cfg.client_auth
    )
    rest_context(material)  # a key that does not match the certificate fails here, at start-up
    return material


def rest_context(material: TlsMaterial) -> ssl.SSLContext:
    """The SSLContext of the HTTP listener (uvicorn's ``ssl_context_factory``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(REST_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        ctx.load_cert_chain(material.cert_file, material.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"[tls] cannot use cert_file {material.cert_file} with key_file {material.key_file}: {exc}"
        ) from None
    ctx.verify_mode = _VERIFY_MODE[material.client_auth]
    if material.client_ca is not None:
        try:
            ctx.load_verify_locations(cadata=material.client_ca.decode("ascii", "replace"))
        except ssl.SSLError as exc:
            raise TlsConfigError(f"[tls] cannot read client_ca_file {material.client_ca_file}: {exc}") from None
    return ctx


def grpc_credentials(material: TlsMaterial) -> grpc.ServerCredentials:
    """Server credentials of the gRPC listener; mTLS only when client_auth is "required" (see above)."""
    required = material.client_auth == "required"
    return grpc.ssl_server_credentials(
        [(material.private_key, material.cert_chain)],
        root_certificates=material.client_ca if required else None,
        require_client_auth=required,
    )


# -- peer certificates --------------------------------------------------------------------------
def fingerprint(der: bytes) -> str:
    """How a certificate is bound and looked up: lowercase hex SHA-256 of its DER encoding."""
    return hashlib.sha256(der).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """A fingerprint as users paste it (``AB:CD:...`` from openssl, or hex) in the stored form."""
    hex_text = text.replace(":", "").strip().lower()
    if len(hex_text) != 64 or any(c not in "0123456789abcdef" for c in hex_text):
        raise ValueError("a fingerprint is the SHA-256 of the certificate's DER: 64 hex digits")
    return hex_text


def certificate_der(data: bytes) -> bytes:
    """The DER of the first certificate in PEM or DER bytes (a chain file binds its leaf)."""
    if _PEM_CERT in data:
        start = data.index(_PEM_CERT)
        end_marker = b"-----END CERTIFICATE-----"
        end = data.index(end_marker, start) + len(end_marker)
        return ssl.PEM_cert_to_DER_cert(data[start:end].decode("ascii"))
    return data


# -- files ---------------------------------------------------------------------------------------
def _check_private(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise TlsConfigError(f"[tls] cannot read key_file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and not from_systemd_credentials(path):
        raise TlsConfigError(
            f"[tls] key_file {path} is accessible to group or others (mode {stat.S_IMODE(mode):04o}):"
            f" run `chmod 600 {path}`"
        )


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"[tls] cannot read {name} {path}: {exc.strerror}") from None
