"""A Python client of the gateway over gRPC, and envelope encryption of files (docs/client.md)."""

from gateway.client.client import KmsClient
from gateway.client.envelope import EnvelopeError, EnvelopeInfo, decrypt_file, encrypt_file
from gateway.client.errors import KmsClientError
from gateway.client.retry import Backoff

__all__ = ["Backoff", "EnvelopeError", "EnvelopeInfo", "KmsClient", "KmsClientError", "decrypt_file", "encrypt_file"]
