"""AWS Signature Version 4 verification, shared by the AWS-style transports (XKS proxy, AWS KMS API).

A leaf: it imports nothing of the gateway, so any transport may use it. canonical.py builds the
canonical request and signature; verifier.py applies a transport's policy (service, regions, skew).
"""

from gateway.sigv4.verifier import (
    ParsedSignature,
    Refusal,
    SignedRequest,
    SigV4Error,
    SigV4Policy,
    SigV4Verifier,
)

__all__ = ["ParsedSignature", "Refusal", "SigV4Error", "SigV4Policy", "SigV4Verifier", "SignedRequest"]
