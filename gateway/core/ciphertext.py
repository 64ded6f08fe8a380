"""The self-describing ciphertext blob, and the AAD that binds it to its context.

Layout (format 1), all integers big-endian:

    0   1B  format version (1)
    1   1B  kind: 1 data key, 2 data
    2  16B  master key id (UUID bytes)
   18   4B  master key version
   22  12B  GCM IV (from the token RNG)
   34   n   ciphertext
   34+n 16B GCM tag

The 22-byte header and the encryption context form the GCM AAD, so a blob cannot be
moved to another key, version, kind or context; the IV is covered by the tag itself.
Parsing never touches the HSM: a truncated or foreign blob is rejected here.
"""

from __future__ import annotations

import functools
import json
import struct
import uuid
from collections.abc import Mapping
from typing import NamedTuple

from gateway.core.errors import Err, KmsError

FORMAT_V1 = 1
KIND_DATA_KEY = 1
KIND_DATA = 2
HEADER = struct.Struct(">BB16sI")
IV_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER.size + IV_BYTES + TAG_BYTES
MAX_CONTEXT_BYTES = 8192


class Blob(NamedTuple):
    """A parsed blob. A tuple rather than a frozen dataclass: one is parsed per item of a batch."""

    kind: int
    key_id: str
    version: int
    iv: bytes
    sealed: bytes  # ciphertext || tag
    header: bytes  # the 22 header bytes as received (the GCM AAD's first part)

    def to_bytes(self) -> bytes:
        return self.header + self.iv + self.sealed


@functools.lru_cache(maxsize=4096)
def _key_id_bytes(key_id: str) -> bytes:
    """A key id's 16 UUID bytes. Cached: a batch seals or opens up to 1000 blobs of one key, and
    building a ``uuid.UUID`` per blob was a tenth of a batch's Python time."""
    return uuid.UUID(key_id).bytes


@functools.lru_cache(maxsize=4096)
def _key_id_text(key_bytes: bytes) -> str:
    return str(uuid.UUID(bytes=key_bytes))


def header(kind: int, key_id: str, version: int) -> bytes:
    return HEADER.pack(FORMAT_V1, kind, _key_id_bytes(key_id), version)


def parse(data: bytes, kind: int, bad: Err) -> Blob:
    """Parse a blob of the expected kind or raise ``bad`` (the operation's own error)."""
    if len(data) < OVERHEAD + 1:
        raise KmsError(bad, "The ciphertext is truncated or not a gateway ciphertext.")
    fmt, got_kind, key_bytes, version = HEADER.unpack_from(data)
    if fmt != FORMAT_V1 or got_kind != kind or version < 1:
        raise KmsError(bad, "The ciphertext is not a gateway ciphertext of this kind.")
    iv = data[HEADER.size : HEADER.size + IV_BYTES]
    return Blob(got_kind, _key_id_text(key_bytes), version, iv, data[HEADER.size + IV_BYTES :], data[: HEADER.size])


def context_aad(
    encryption_context: Mapping[str, str] | None, additional_authenticated_data: str | None = None
) -> bytes:
    """Canonical bytes of the caller's context: sorted compact JSON, or the AAD string.

    Both spellings are accepted by the API (the newer SDK sends a plain string); they are
    tagged differently so one can never stand in for the other.
    """
    if encryption_context:
        if not isinstance(encryption_context, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in encryption_context.items()
        ):
            raise KmsError(Err.INVALID_ENCRYPTION_CONTEXT, "encryption_context must map strings to strings.")
        raw = json.dumps(dict(encryption_context), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        out = b"C" + raw.encode()
    elif additional_authenticated_data:
        out = b"A" + additional_authenticated_data.encode()
    else:
        return b""
    if len(out) - 1 > MAX_CONTEXT_BYTES:
        raise KmsError(Err.INVALID_ENCRYPTION_CONTEXT, "encryption_context must be at most 8192 bytes serialized.")
    return out


def aad(hdr: bytes, ctx: bytes) -> bytes:
    return hdr + b"\x00" + ctx
