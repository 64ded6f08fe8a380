"""`kmsgw certificates bind|unbind|list`: client certificates (mTLS) that authenticate as a credential.

A binding maps the SHA-256 of a certificate's DER to an access key; a REST or gRPC call that
presents that certificate (verified against ``[tls] client_ca_file``) and no token or signature
is that credential's call, under its policy (docs/tls.md). Running servers see a change within
``POLICY_RECHECK_SECONDS`` (gateway/core/auth.py).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.commands._common import add_common, fail, load_config
from gateway.core.ports.store import CertificateBindingRow


def register(sub: argparse._SubParsersAction) -> None:
    certs = sub.add_parser("certificates", help="client certificates (mTLS) bound to credentials")
    certs_sub = certs.add_subparsers(dest="action", required=True)

    bind = certs_sub.add_parser("bind", help="authenticate a client certificate as a credential")
    add_common(bind)
    bind.add_argument("--access-key", required=True, help="the credential (from `kmsgw credentials create`)")
    bind.add_argument("--cert", required=True, help="the client certificate, PEM or DER (a chain binds its first)")
    bind.set_defaults(run=bind_cmd)

    unbind = certs_sub.add_parser("unbind", help="remove a certificate's binding")
    add_common(unbind)
    which = unbind.add_mutually_exclusive_group(required=True)
    which.add_argument("--cert", help="the certificate file")
    which.add_argument("--fingerprint", help="its SHA-256 fingerprint (hex, colons allowed)")
    unbind.set_defaults(run=unbind_cmd)

    listing = certs_sub.add_parser("list", help="print the bindings as JSON")
    add_common(listing)
    listing.add_argument("--access-key", help="only this credential's certificates")
    listing.set_defaults(run=list_cmd)


def bind_cmd(args: argparse.Namespace) -> int:
    from cryptography import x509

    from gateway.app import tls

    try:
        der = tls.certificate_der(Path(args.cert).read_bytes())
        cert = x509.load_der_x509_certificate(der)
    except (OSError, ValueError) as exc:
        return fail(f"cannot read a certificate from {args.cert}: {exc}")

    def bind(store: Any) -> tuple[CertificateBindingRow | None, str]:
        credential = store.get_credential(args.access_key)
        if credential is None:
            return None, f"unknown access key {args.access_key}"
        wanted = CertificateBindingRow(
            tls.fingerprint(der),
            args.access_key,
            cert.subject.rfc4514_string(),
            int(cert.not_valid_after_utc.timestamp() * 1000),
            int(time.time() * 1000),
        )
        stored = store.bind_certificate(wanted)
        if stored.access_key != args.access_key:
            return None, f"the certificate is already bound to access key {stored.access_key}: unbind it first"
        return stored, credential.project_id

    row, detail = _with_store(args, bind)
    if row is None:
        return fail(detail)
    print(json.dumps(_out(row) | {"project_id": detail}))
    return 0


def unbind_cmd(args: argparse.Namespace) -> int:
    from gateway.app import tls

    try:
        if args.cert:
            fingerprint = tls.fingerprint(tls.certificate_der(Path(args.cert).read_bytes()))
        else:
            fingerprint = tls.normalize_fingerprint(args.fingerprint)
    except (OSError, ValueError) as exc:
        return fail(str(exc))
    if not _with_store(args, lambda store: store.unbind_certificate(fingerprint)):
        return fail(f"no certificate with fingerprint {fingerprint} is bound")
    print(json.dumps({"fingerprint": fingerprint, "unbound": True}))
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    rows = _with_store(args, lambda store: store.list_certificate_bindings(args.access_key))
    print(json.dumps({"bindings": [_out(r) for r in rows]}))
    return 0


def _with_store(args: argparse.Namespace, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(store)`` on the configured metadata store (opened as every command opens it)."""
    from gateway.app.runtime import Runtime

    rt = Runtime.open(load_config(args))
    try:
        return fn(rt.store)
    finally:
        rt.close()


def _out(row: CertificateBindingRow) -> dict[str, object]:
    return {
        "fingerprint": row.fingerprint,
        "access_key": row.access_key,
        "subject": row.subject,
        "not_after": row.not_after,
        "created_at": row.created_at,
    }
