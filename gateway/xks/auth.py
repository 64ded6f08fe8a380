"""Who calls the XKS endpoint: a SigV4 signature by a credential of the path's keystore, and —
when ``[xks] client_cert_cn`` is set — a client certificate with one of those subject CNs.

The signature rules are the shared verifier's (gateway/sigv4): service ``kms-xks-proxy``, the
configured regions (none: any), ``[xks] max_clock_skew_s``, SignedHeaders as the request names
them, the body as received. An access key of another keystore fails exactly like an unknown one.

The certificate check runs after the TLS handshake, on the certificate the handshake verified
against ``[tls] client_ca_file``: Python's ``ssl`` module offers no verification callback, so the
subject cannot end the handshake itself; a wrong or missing certificate gets 403
AccessDeniedException instead (docs/xks.md, "mTLS").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from gateway.core.clock import Clock
from gateway.core.errors import Err
from gateway.core.model import Caller
from gateway.core.ports.store import XksKeystoreRow
from gateway.core.xks import XksService
from gateway.core.xks.errors import XksError, XksName
from gateway.sigv4 import SignedRequest, SigV4Error, SigV4Policy, SigV4Verifier

SERVICE = "kms-xks-proxy"
_MAX_CACHED_CERTS = 1_000
log = logging.getLogger(__name__)


class XksAuth:
    def __init__(
        self,
        xks: XksService,
        clock: Clock,
        *,
        regions: Iterable[str] = (),
        max_clock_skew_s: float = 300.0,
        client_cert_cns: Iterable[str] = (),
    ) -> None:
        self._xks = xks
        self._clock = clock
        self._verifier = SigV4Verifier(SigV4Policy(SERVICE, frozenset(regions), max_clock_skew_s))
        self._cns = frozenset(client_cert_cns)
        self._cert_cns: dict[bytes, frozenset[str]] = {}  # DER -> its subject CNs

    def check_certificate(self, scope: MutableMapping[str, Any]) -> None:
        """AccessDeniedException unless the connection's verified client certificate has an allowed CN."""
        if not self._cns:
            return
        der = (scope.get("extensions") or {}).get("tls", {}).get("client_cert_der")
        if not der:
            raise XksError(XksName.ACCESS_DENIED, Err.OPERATION_DENIED, "A client certificate is required.")
        if not self._subject_cns(der) & self._cns:
            log.warning("xks client certificate refused", extra={"reason": "subject CN not allowed"})
            raise XksError(
                XksName.ACCESS_DENIED, Err.OPERATION_DENIED, "The client certificate's subject is not allowed."
            )

    async def caller(self, scope: MutableMapping[str, Any], keystore: XksKeystoreRow, body: bytes) -> Caller:
        request = SignedRequest(
            scope["method"],
            scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""),
            scope["headers"],
            body,
        )
        access_key_id = ""
        try:
            parsed = self._verifier.parse(request, self._clock.now())
            access_key_id = parsed.access_key_id
            found = await self._xks.credential(access_key_id)
            secret = found[0] if found is not None and found[1].uri_prefix == keystore.uri_prefix else None
            self._verifier.verify(request, parsed, secret)
        except SigV4Error as exc:
            extra = {"reason": exc.reason, "refusal": exc.refusal.value, "access_key_id": access_key_id[:64]}
            log.warning("xks signature refused", extra=extra)
            raise XksError(XksName.AUTHENTICATION_FAILED, Err.SIGNATURE_INVALID, exc.public) from None
        return self._xks.caller(keystore, access_key_id)

    def _subject_cns(self, der: bytes) -> frozenset[str]:
        cns = self._cert_cns.get(der)
        if cns is None:
            try:
                subject = x509.load_der_x509_certificate(der).subject
                cns = frozenset(str(a.value) for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME))
            except ValueError:
                cns = frozenset()
            if len(self._cert_cns) >= _MAX_CACHED_CERTS:
                self._cert_cns.clear()
            self._cert_cns[der] = cns
        return cns
