"""The gateway operations ``bench gateway`` drives, and the token mechanism each one rests on.

The mapping is what gives every gateway row its "x raw" ratio: the same work asked of the same
token with nothing in between (``bench p11`` on the gateway's own token, in the same run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPERATIONS = ("create_datakey", "decrypt_datakey", "encrypt_data", "decrypt_data", "sign", "datakey_pair")
# Not a KMS operation: one unary gRPC call of ``Fixture.raw_method`` with payload bytes, for transport
# ceilings (a no-work echo server) measured by the very same loader as the gateway's rows.
RAW_UNARY = "raw_unary"
DEFAULT_OPERATIONS = ("create_datakey", "decrypt_datakey", "encrypt_data", "decrypt_data", "sign")
BATCHABLE = frozenset({"create_datakey", "decrypt_datakey", "datakey_pair"})  # the batch RPCs carry data keys
USES_PAYLOAD = frozenset({"encrypt_data", "decrypt_data"})
MAX_DATA_PAYLOAD = 4096  # encrypt-data's limit
DATAKEY_BYTES = 32
SIGN_SPECS = {"EC_P256": ("ECDSA_SHA_256", "ecdsa:p256"), "RSA_2048": ("RSASSA_PSS_SHA_256", "rsa-pss:2048")}


def raw_mechanism(operation: str, sign_spec: str) -> str:
    """The ``bench p11`` mechanism whose rate bounds this operation's (AES-GCM for the data paths)."""
    if operation == "sign":
        return SIGN_SPECS[sign_spec][1]
    return "aes-gcm:256"


def raw_payload(operation: str, payload: int) -> int:
    return payload if operation in USES_PAYLOAD else DATAKEY_BYTES


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom a loader calls the gateway (picklable: it crosses into loader processes)."""

    grpc_target: str | None
    rest_url: str | None
    project_id: str | None
    token: str = field(repr=False)
    ca_file: str | None = None
    xks_url: str | None = None  # the XKS proxy's base, http(s)://HOST:PORT/PREFIX/kms/xks/v1
    xks_credential: str = field(default="", repr=False)  # its SigV4 credential, "ACCESS_KEY_ID:SECRET"


@dataclass(frozen=True)
class Fixture:
    """Keys the run made (or was given) on the gateway."""

    key_id: str  # AES_256 master key
    sign_key_id: str = ""
    sign_spec: str = "EC_P256"
    public_key_der: bytes = b""  # of the signing key, to check every signature with --verify
    raw_method: str = ""  # RAW_UNARY: "/package.Service/Method"
