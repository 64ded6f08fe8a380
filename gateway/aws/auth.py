"""Who calls the AWS API: a SigV4 signature (the shared verifier, gateway/sigv4) with service ``kms``,
the region of the credential scope (any region: it picks the namespace), the headers the request
lists in SignedHeaders, and a 5-minute skew.

AWS's answers: no Authorization header is MissingAuthenticationTokenException; an access key nobody
issued is UnrecognizedClientException; a signature that does not match, a date too far from the
server clock or a malformed header is InvalidSignatureException (IncompleteSignatureException when
a part is missing). The reason is logged, never the signature or the secret.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from gateway.core.aws.directory import AwsDirectory, AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName
from gateway.core.clock import Clock
from gateway.sigv4 import Refusal, SignedRequest, SigV4Error, SigV4Policy, SigV4Verifier

SERVICE = "kms"
MAX_SKEW_S = 300.0
log = logging.getLogger(__name__)

_UNRECOGNIZED = "The security token included in the request is invalid."
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


class AwsAuth:
    def __init__(self, directory: AwsDirectory, clock: Clock, *, max_skew_s: float = MAX_SKEW_S) -> None:
        self._directory = directory
        self._clock = clock
        self._verifier = SigV4Verifier(SigV4Policy(SERVICE, frozenset(), max_skew_s))

    async def identity(self, scope: MutableMapping[str, Any], body: bytes) -> AwsIdentity:
        headers = scope["headers"]
        if not any(name == b"authorization" for name, _ in headers):
            raise AwsError(AwsName.MISSING_AUTHENTICATION, "Missing Authentication Token")
        request = SignedRequest(
            scope["method"],
            scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""),
            headers,
            body,
        )
        access_key_id = ""
        try:
            parsed = self._verifier.parse(request, self._clock.now())
            access_key_id = parsed.access_key_id
            found = await self._directory.credential(access_key_id)
            self._verifier.verify(request, parsed, found[0] if found is not None else None)
        except SigV4Error as exc:
            extra = {"reason": exc.reason, "refusal": exc.refusal.value, "access_key_id": access_key_id[:64]}
            log.warning("aws signature refused", extra=extra)
            raise _refusal(exc) from None
        assert found is not None
        return self._directory.identity(found[1], parsed.region)


def _refusal(exc: SigV4Error) -> AwsError:
    if exc.refusal is Refusal.UNKNOWN_KEY:
        return AwsError(AwsName.UNRECOGNIZED_CLIENT, _UNRECOGNIZED)
    if exc.refusal is Refusal.MISMATCH:
        return AwsError(AwsName.INVALID_SIGNATURE, _MISMATCH)
    if exc.refusal is Refusal.SKEW:
        return AwsError(AwsName.INVALID_SIGNATURE, f"Signature expired: {exc.reason}")
    if exc.refusal is Refusal.MALFORMED:
        return AwsError(AwsName.INCOMPLETE_SIGNATURE, f"Authorization header is malformed: {exc.reason}.")
    return AwsError(AwsName.INVALID_SIGNATURE, f"Credential should be scoped correctly: {exc.reason}.")
