"""Who is calling over REST: an ``X-Auth-Token`` or an AK/SK signature, then the path's project.

* ``X-Auth-Token: kmsgw1....`` (from ``kmsgw token create``) → :meth:`Authenticator.caller_from_token`.
* ``Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`` as the official SDK
  signs (``gateway.rest.aksk_signatures``): the access key's secret comes from the core
  (:meth:`Authenticator.secret_for`, sealed in the token), the signature is checked in constant
  time over the raw path, query, signed headers and body, and ``X-Sdk-Date`` must be within 15
  minutes of the server clock (``rt.kms.clock``, so tests move time instead of sleeping). A replay
  inside that window is accepted (no nonce store), as the SDK's own scheme intends.
* Neither, on a TLS connection whose client certificate is bound to a credential
  (``kmsgw certificates bind``): that credential (:meth:`Authenticator.caller_from_certificate`).
  An explicit token or signature always wins over the certificate; an unbound one is TOKEN_MISSING.

An unknown access key and a wrong secret answer the same error, after the same HMAC work, so a
caller cannot tell which access keys exist. Signature failures never echo the expected value.
A caller whose project differs from the path's ``{project_id}`` gets PROJECT_MISMATCH (403).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers

from gateway.core.auth import Authenticator
from gateway.core.clock import Clock
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.rest.aksk_signatures import (
    SignatureError,
    SignedRequest,
    StaleRequestError,
    parse_authorization,
    verify,
)

Scope = MutableMapping[str, Any]  # an ASGI scope
_NO_MATCH = "signature does not match"
# Verifies nothing; spends the HMAC work of a real check when the access key is unknown.
_DUMMY_SECRET = "kmsgw-unknown-access-key"  # noqa: S105 (not a credential: a stand-in that never verifies)


class RestAuth:
    def __init__(self, auth: Authenticator, clock: Clock) -> None:
        self.auth = auth
        self.clock = clock

    async def caller(self, scope: Scope, headers: Headers, body: bytes, project_id: str) -> Caller:
        token = headers.get("x-auth-token")
        if token is not None:
            caller = self.auth.caller_from_token(token.strip())
        else:
            authorization = headers.get("authorization")
            if authorization:
                caller = await self._signed_caller(scope, headers, body, authorization)
            else:  # neither: a client certificate bound to a credential (mTLS, docs/tls.md), if any
                der = scope.get("extensions", {}).get("tls", {}).get("client_cert_der")
                certified = self.auth.caller_from_certificate(der) if der else None
                if certified is None:
                    raise KmsError(Err.TOKEN_MISSING, "Missing X-Auth-Token (or an SDK-HMAC-SHA256 Authorization).")
                caller = certified
            declared = headers.get("x-project-id")
            if declared is not None and declared != project_id:
                raise KmsError(Err.PROJECT_MISMATCH, "X-Project-Id differs from the project in the path.")
        if caller.project_id != project_id:
            raise KmsError(Err.PROJECT_MISMATCH)
        return caller

    async def _signed_caller(self, scope: Scope, headers: Headers, body: bytes, authorization: str) -> Caller:
        try:
            access_key, _, _ = parse_authorization(authorization)
        except SignatureError as exc:
            raise KmsError(Err.SIGNATURE_INVALID, f"Invalid request signature: {exc.reason}.") from None
        try:
            secret, caller = await self.auth.secret_for(access_key)
            known = True
        except KmsError as exc:
            if exc.err is not Err.SIGNATURE_INVALID:
                raise
            secret, caller, known = _DUMMY_SECRET, None, False
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = SignedRequest.from_raw(scope["method"], raw_path, scope.get("query_string", b""), headers, body)
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        try:
            verify(request, secret, now)
        except StaleRequestError:
            raise KmsError(Err.REQUEST_EXPIRED) from None
        except SignatureError as exc:
            # The reasons depend on the request only, never on whether the access key exists.
            raise KmsError(Err.SIGNATURE_INVALID, f"Invalid request signature: {exc.reason}.") from None
        if not known or caller is None:
            raise KmsError(Err.SIGNATURE_INVALID, f"Invalid request signature: {_NO_MATCH}.")
        return caller
