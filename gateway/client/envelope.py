"""Envelope encryption of files: one data key per file from the gateway, AES-256-GCM locally.

The gateway never sees the file; it issues the data key (CreateDataKey) and later unwraps it
(DecryptDataKey). The file is processed in chunks, so memory stays bounded whatever its size.

Container format, version 1 (all integers big-endian; docs/client.md has the same table):

    magic        8 bytes  b"KMSGWENC"
    version      1 byte   1
    reserved     1 byte   0
    chunk_size   4 bytes  plaintext bytes per chunk, 1 KiB .. 16 MiB
    file_nonce  12 bytes  random, fresh per file
    key_id_len   2 bytes, key_id        the master key (ASCII)
    wrapped_len  4 bytes, wrapped_key   the data key as CreateDataKey's cipher_text
    context_len  4 bytes, context       the encryption context, JSON (sorted keys, compact, UTF-8)
    chunks: AES-256-GCM(data key) ciphertext || 16-byte tag, each chunk_size bytes of plaintext
            except the last, which holds 0..chunk_size bytes (only an empty file has an empty chunk)

Chunk i is sealed with nonce = file_nonce XOR (4 zero bytes || i as 8 bytes) and additional data
SHA-256(header) || i (8 bytes) || final (1 byte: 1 for the last chunk, else 0). So the header is
authenticated by every chunk, and truncation, dropping, reordering or swapping chunks (between
positions or between files) fail authentication. The wrapped key is bound to its master key and
context by the gateway itself.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.client.client import KmsClient

MAGIC = b"KMSGWENC"
VERSION = 1
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
TAG_SIZE = 16
NONCE_SIZE = 12
DATA_KEY_BITS = 256
_FIXED = struct.Struct(">8sBBI12s")  # magic, version, reserved, chunk_size, file_nonce
_MAX_KEY_ID, _MAX_WRAPPED, _MAX_CONTEXT = 255, 4096, 8192

Progress = Callable[[int], object]  # called with the input bytes consumed since the last call


class EnvelopeError(ValueError):
    """The input is not a valid encrypted file: wrong format, truncated, tampered, other key."""


@dataclass(frozen=True)
class EnvelopeInfo:
    """What a file was (or is now) encrypted under, and how much plaintext it holds."""

    key_id: str
    context: dict[str, str] = field(default_factory=dict)
    plaintext_bytes: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE


@dataclass(frozen=True)
class Header:
    chunk_size: int
    file_nonce: bytes
    key_id: str
    wrapped_key: bytes
    context: dict[str, str]
    raw: bytes  # the header exactly as stored: its hash goes into every chunk's additional data

    @classmethod
    def build(cls, chunk_size: int, key_id: str, wrapped_key: bytes, context: Mapping[str, str]) -> Header:
        file_nonce = os.urandom(NONCE_SIZE)
        kid = key_id.encode("ascii")
        ctx = _context_json(context)
        raw = b"".join(
            (
                _FIXED.pack(MAGIC, VERSION, 0, chunk_size, file_nonce),
                struct.pack(">H", len(kid)),
                kid,
                struct.pack(">I", len(wrapped_key)),
                wrapped_key,
                struct.pack(">I", len(ctx)),
                ctx,
            )
        )
        return cls(chunk_size, file_nonce, key_id, wrapped_key, dict(context), raw)

    @classmethod
    def read(cls, f: BinaryIO) -> Header:
        fixed = _read_exact(f, _FIXED.size, "header")
        magic, version, reserved, chunk_size, file_nonce = _FIXED.unpack(fixed)
        if magic != MAGIC:
            raise EnvelopeError("not a kmsgw encrypted file (bad magic)")
        if version != VERSION:
            raise EnvelopeError(f"unsupported format version {version} (this client reads version {VERSION})")
        if reserved != 0 or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise EnvelopeError("corrupt header")
        parts = [fixed]
        kid = _read_field(f, ">H", _MAX_KEY_ID, parts)
        wrapped = _read_field(f, ">I", _MAX_WRAPPED, parts)
        ctx = _read_field(f, ">I", _MAX_CONTEXT, parts)
        try:
            key_id = kid.decode("ascii")
            context = json.loads(ctx.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise EnvelopeError("corrupt header") from exc
        if not isinstance(context, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in context.items()
        ):
            raise EnvelopeError("corrupt header")
        return cls(chunk_size, file_nonce, key_id, wrapped, context, b"".join(parts))


class _ChunkCipher:
    """AES-256-GCM over the chunks of one file: nonces and additional data per chunk index."""

    def __init__(self, data_key: bytearray, header: Header) -> None:
        self._aead = AESGCM(data_key)
        self._nonce = int.from_bytes(header.file_nonce, "big")
        self._header_hash = hashlib.sha256(header.raw).digest()

    def _params(self, index: int, final: bool) -> tuple[bytes, bytes]:
        nonce = (self._nonce ^ index).to_bytes(NONCE_SIZE, "big")
        aad = self._header_hash + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
        return nonce, aad

    def seal(self, index: int, final: bool, plaintext: bytes) -> bytes:
        nonce, aad = self._params(index, final)
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, index: int, final: bool, sealed: bytes) -> bytes:
        nonce, aad = self._params(index, final)
        return self._aead.decrypt(nonce, sealed, aad)


def encrypt_file(
    client: KmsClient,
    key_id: str,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    progress: Progress | None = None,
    *,
    context: Mapping[str, str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
) -> EnvelopeInfo:
    """Encrypt ``src`` into ``dst`` under a fresh data key of master key ``key_id``.

    ``dst`` appears only when complete (a temp file in its directory, renamed at the end, mode
    0600); with ``overwrite`` False an existing ``dst`` is an error (FileExistsError).
    """
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    context = dict(context or {})
    _check_destination(dst, overwrite)
    with open(src, "rb") as fin:
        dk = client.create_data_key(key_id, bits=DATA_KEY_BITS, context=context)
        data_key = bytearray(dk.plain_text)
        header = Header.build(chunk_size, dk.key_id or key_id, dk.cipher_text, context)
        del dk
        try:
            cipher = _ChunkCipher(data_key, header)
            total = 0
            with _atomic_output(dst, overwrite) as fout:
                fout.write(header.raw)
                index, chunk = 0, _read_full(fin, chunk_size)
                while True:
                    following = _read_full(fin, chunk_size)
                    final = not following
                    fout.write(cipher.seal(index, final, chunk))
                    total += len(chunk)
                    if progress:
                        progress(len(chunk))
                    if final:
                        break
                    index, chunk = index + 1, following
        finally:
            _wipe(data_key)
    return EnvelopeInfo(header.key_id, header.context, total, chunk_size)


def decrypt_file(
    client: KmsClient,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    progress: Progress | None = None,
    *,
    key_id: str | None = None,
    overwrite: bool = False,
) -> EnvelopeInfo:
    """Decrypt ``src`` (written by :func:`encrypt_file`) into ``dst``.

    Raises :class:`EnvelopeError` for anything that is not an intact file of this format (and,
    when ``key_id`` is given, for a file under another master key); ``KmsClientError`` when the
    gateway refuses to unwrap the data key. On any failure ``dst`` is not created.
    """
    _check_destination(dst, overwrite)
    with open(src, "rb") as fin:
        header = Header.read(fin)
        if key_id is not None and header.key_id != key_id:
            raise EnvelopeError(f"the file is encrypted under key {header.key_id}, not {key_id}")
        if progress:
            progress(len(header.raw))
        out = client.decrypt_data_key(
            header.key_id, header.wrapped_key, datakey_length=DATA_KEY_BITS // 8, context=header.context
        )
        data_key = bytearray(out.data_key)
        del out
        try:
            if len(data_key) != DATA_KEY_BITS // 8:
                raise EnvelopeError("the unwrapped data key has the wrong length")
            cipher = _ChunkCipher(data_key, header)
            total = _decrypt_chunks(cipher, header.chunk_size + TAG_SIZE, fin, dst, overwrite, progress)
        finally:
            _wipe(data_key)
    return EnvelopeInfo(header.key_id, header.context, total, header.chunk_size)


def read_header(src: str | os.PathLike) -> Header:
    """The header of an encrypted file (key id, context, chunk size) without decrypting it."""
    with open(src, "rb") as f:
        return Header.read(f)


def _decrypt_chunks(
    cipher: _ChunkCipher, frame: int, fin: BinaryIO, dst: str | os.PathLike, overwrite: bool, progress: Progress | None
) -> int:
    total = 0
    with _atomic_output(dst, overwrite) as fout:
        index, sealed = 0, _read_full(fin, frame)
        if len(sealed) < TAG_SIZE:
            raise EnvelopeError("the file is truncated (no complete data chunk)")
        while True:
            following = _read_full(fin, frame)
            final = not following
            try:
                plain = cipher.open(index, final, sealed)
            except InvalidTag:
                what = "truncated or modified" if final else "modified"
                raise EnvelopeError(f"the file is {what}: chunk {index} failed authentication") from None
            fout.write(plain)
            total += len(plain)
            if progress:
                progress(len(sealed))
            if final:
                return total
            index, sealed = index + 1, following


def _check_destination(dst: str | os.PathLike, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(dst):
        raise FileExistsError(f"{dst} exists")


@contextlib.contextmanager
def _atomic_output(dst: str | os.PathLike, overwrite: bool) -> Iterator[BinaryIO]:
    """A temp file beside ``dst`` (mode 0600) that becomes ``dst`` only if the block succeeds."""
    path = Path(dst)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if dst appeared meanwhile: never clobber
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EOPNOTSUPP):
                    raise
                # No hard links here (vfat, some FUSE and network mounts): claim the name with
                # O_EXCL, then move the finished file over that empty placeholder.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                try:
                    os.replace(tmp, path)
                except BaseException:
                    os.unlink(path)  # our empty placeholder, never a file someone else wrote
                    raise
            else:
                os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_full(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, fewer only at end of input (pipes may return short reads)."""
    data = f.read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = f.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = _read_full(f, n)
    if len(data) != n:
        raise EnvelopeError(f"the file is truncated (incomplete {what})")
    return data


def _read_field(f: BinaryIO, length_fmt: str, limit: int, parts: list[bytes]) -> bytes:
    size_raw = _read_exact(f, struct.calcsize(length_fmt), "header")
    (size,) = struct.unpack(length_fmt, size_raw)
    if size > limit:
        raise EnvelopeError("corrupt header")
    value = _read_exact(f, size, "header")
    parts += [size_raw, value]
    return value


def _context_json(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _wipe(buf: bytearray) -> None:
    """Zero a key buffer in place (Python cannot reach copies inside protobuf or OpenSSL objects)."""
    buf[:] = bytes(len(buf))
