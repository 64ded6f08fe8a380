"""Transport: the AWS KMS External Key Store (XKS) proxy API, on the HTTP listener.

Follows the AWS KMS External Key Store Proxy API Specification v1.0.3. Layout:

* ``app.py`` — the ASGI endpoint, the order of checks, the pipeline exchange, the request log;
* ``routing.py`` — the four paths under ``/{prefix}/kms/xks/v1``;
* ``auth.py`` — SigV4 (gateway/sigv4) against the keystore's credentials, the client certificate's CN;
* ``wire.py`` — bodies in and out; ``errors.py`` — the ``{errorName, errorMessage}`` dialect.

The rules (keystores, mappings, cryptography, health) are the core's (gateway/core/xks).
"""

from gateway.xks.app import XksEndpoint, create_xks_app
from gateway.xks.errors import ENVELOPE
from gateway.xks.routing import PATH_MARKER

__all__ = ["ENVELOPE", "PATH_MARKER", "XksEndpoint", "create_xks_app"]
