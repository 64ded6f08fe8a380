"""Audit trail: one hash-chained, MAC-ed JSON line per request.

The request pipeline builds an :class:`AuditEvent` (gateway/core/ports/audit.py) per finished
request and hands it to :meth:`AuditLog.record` (this is the port's ``AuditSink``); the log adds
the time, its line number and the chain fields. The format (docs/audit.md) makes every line
depend on the one before it (``prev`` = SHA-256 of the previous line's bytes) and carries an
HMAC-SHA256 under a key that only the token can unseal (gateway/audit/key.py), so an edit
anywhere shows in ``kmsgw audit verify`` even when the editor recomputes the hashes.

Several processes (``--workers N``, or nodes sharing a data dir) append to one file: each
append holds an exclusive ``flock``, re-reads the file's tail when another writer grew it, and
writes the whole line with one ``os.write`` on an ``O_APPEND`` descriptor.

Rotation: a file renamed away is noticed within ``PATH_CHECK_INTERVAL_S`` (the path is looked up
at most that often), a file removed at once (its link count, from the ``fstat`` each append makes
anyway). Each system call on the request path releases the GIL, and a busy worker's event loop then
waits for the HSM thread to hand it back: hence no path lookup per line.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from json.encoder import encode_basestring_ascii as _encode_str
from pathlib import Path

from gateway.core.ports.audit import AuditEvent

log = logging.getLogger(__name__)

# The record's keys, in the order they appear on every line (the MAC, when kept, comes last).
EVENT_FIELDS = (
    "principal",
    "project_id",
    "action",
    "key_id",
    "result",
    "request_id",
    "sequence",
    "op",
    "transport",
)
FIELDS = ("time", "seq", *EVENT_FIELDS, "prev")
MAC_FIELD = "mac"
# `prev` of a file's first line: the SHA-256 of this fixed string.
GENESIS_TEXT = b"kmsgw audit v1 genesis"
GENESIS = hashlib.sha256(GENESIS_TEXT).hexdigest()
MAC_SUFFIX_LEN = len(',"mac":""}') + 64  # a line ends with ,"mac":"<64 hex>"}
MAX_FIELD_CHARS = 256  # client-chosen values (request id, sequence) are clipped to this
FSYNC_MODES = ("always", "interval", "never")
_TAIL_WINDOW = 16 * 1024
# How late a writer may notice that its file was renamed away (rotation): lines it appends meanwhile
# go on in the renamed file, whose chain stays whole (docs/audit.md, "Rotation").
PATH_CHECK_INTERVAL_S = 0.1
_TAIL_MAX = 1 << 20


def line_hash(line: bytes) -> str:
    """The chain hash of a line: SHA-256 of its bytes without the trailing newline."""
    return hashlib.sha256(line).hexdigest()


def line_mac(key: bytes, body: bytes) -> str:
    """HMAC-SHA256 of a line's bytes up to (not including) ``,"mac":``."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _quote(value: str | None) -> str:
    """A JSON string (ASCII, as json.dumps escapes it), clipped to MAX_FIELD_CHARS; None is null."""
    return "null" if value is None else _encode_str(value[:MAX_FIELD_CHARS])


class AuditLog:
    """Appends records to one file shared with other processes; see the module docstring."""

    def __init__(
        self,
        path: Path | str,
        mac_key: bytes | None,
        *,
        fsync: str = "interval",
        fsync_interval_s: float = 1.0,
    ) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"[audit] fsync must be one of {', '.join(FSYNC_MODES)}, not {fsync!r}")
        self.path = Path(path)
        self._mac = hmac.new(mac_key, digestmod=hashlib.sha256) if mac_key is not None else None
        self._time_secs, self._time_prefix = -1, ""
        self._fsync = fsync
        self._interval = fsync_interval_s
        self._lock = threading.Lock()
        self._fd = -1
        self._ino = 0
        self._end = -1  # file size after our last append; -1: unknown, read the tail first
        self._next_path_check = 0.0  # monotonic time of the next rotation check (_follow_rotation)
        self._seq = 0
        self._prev = GENESIS
        self._dirty = False
        self._closed = False
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._open()

    # -- the hot path -------------------------------------------------------------------
    def record(self, event: AuditEvent) -> None:
        """Append one line; returns once it is written (and synced when fsync = "always")."""
        with self._lock:
            if self._closed:
                raise RuntimeError("audit log is closed")
            now = time.monotonic()
            if now >= self._next_path_check:
                self._next_path_check = now + PATH_CHECK_INTERVAL_S
                self._follow_rotation()
            if not self._append(event):  # the file was removed: a new one now (or fail closed)
                self._follow_rotation()
                if not self._append(event):
                    raise OSError("audit log: the file was removed while this line was written")
            fd = self._fd
            if self._fsync == "always":
                os.fdatasync(fd)
            elif self._fsync == "interval":
                self._dirty = True
                if self._flusher is None:
                    self._start_flusher()

    def _append(self, event: AuditEvent) -> bool:
        """Write the line under the file lock; False, writing nothing, when the file has no name left."""
        fd = self._fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            st = os.fstat(fd)
            if st.st_nlink == 0:
                return False
            size = st.st_size
            pad = b""
            if size != self._end:  # another writer appended (or the file was truncated)
                self._seq, self._prev, pad = self._learn_tail(size)
            seq = self._seq + 1
            line = self._line(event, seq, self._prev)
            data = pad + line + b"\n"
            written = os.write(fd, data)
            if written != len(data):  # a short write on a full disk: never continue from it
                self._end = -1
                raise OSError(f"audit log: short write ({written} of {len(data)} bytes)")
            self._end = size + written
            self._seq, self._prev = seq, line_hash(line)
            return True
        except BaseException:
            self._end = -1
            raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _line(self, event: AuditEvent, seq: int, prev: str) -> bytes:
        """The canonical line: what ``json.dumps(record, separators=(",", ":"))`` gives, built
        field by field because this is the hot path (a test holds the two equal)."""
        q = _quote
        body = (
            f'{{"time":"{self._time()}","seq":{seq},"principal":{q(event.principal)},'
            f'"project_id":{q(event.project_id)},"action":{q(event.action)},"key_id":{q(event.key_id)},'
            f'"result":{q(event.result)},"request_id":{q(event.request_id)},"sequence":{q(event.sequence)},'
            f'"op":{q(event.op)},"transport":{q(event.transport)},"prev":"{prev}"'
        ).encode()
        if self._mac is None:
            return body + b"}"
        mac = self._mac.copy()
        mac.update(body)
        return body + b',"mac":"' + mac.hexdigest().encode() + b'"}'

    def _time(self) -> str:
        now = time.time()
        secs = int(now)
        if secs != self._time_secs:  # the date part is formatted once a second
            self._time_secs, self._time_prefix = secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        return f"{self._time_prefix}.{int((now - secs) * 1000):03d}Z"

    # -- the file -----------------------------------------------------------------------
    def _open(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        st = os.fstat(fd)
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.fchmod(fd, 0o600)
        self._fd, self._ino, self._end = fd, st.st_ino, -1

    def _follow_rotation(self) -> None:
        """Reopen when the path names another file (renamed away for rotation, or removed); fails
        (closed) when no file can be made there (its directory removed)."""
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = -1
        if ino != self._ino:
            old = self._fd
            self._open()
            if self._dirty:  # what we wrote to the old file reaches the disk before we let go of it
                self._dirty = False
                os.fdatasync(old)
            os.close(old)

    def _learn_tail(self, size: int) -> tuple[int, str, bytes]:
        """(seq, hash) of the file's last line, and b"\\n" to end that line first when it is torn.

        The last line is numbered from the last line that parses (normally the last line
        itself), so junk or a torn write at the end does not break the numbering.
        """
        if size == 0:
            return 0, GENESIS, b""
        window = _TAIL_WINDOW
        while True:
            start = max(0, size - window)
            lines = os.pread(self._fd, size - start, start).split(b"\n")
            torn = lines.pop()  # bytes after the last newline: b"" unless a write was torn
            if start > 0:
                lines.pop(0)  # the window may have cut this one
            last_seq = None
            for back, raw in enumerate(reversed(lines)):
                seq = _seq_of(raw)
                if seq is not None:
                    last_seq = seq + back
                    break
            if last_seq is None:
                if start > 0 and window < _TAIL_MAX:
                    window *= 4
                    continue
                last_seq = len(lines) if start == 0 else _count_lines(self._fd, size)
            if torn:
                return last_seq + 1, line_hash(torn), b"\n"
            return last_seq, line_hash(lines[-1] if lines else b""), b""

    # -- durability ---------------------------------------------------------------------
    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(target=self._flush_loop, name="audit-fsync", daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._wake.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        """fdatasync what this process wrote, if anything since the last flush."""
        with self._lock:
            if not self._dirty or self._fd < 0:
                return
            self._dirty = False
            fd = os.dup(self._fd)  # a rotation may close ours while we sync outside the lock
        try:
            os.fdatasync(fd)
        except OSError as exc:
            log.error("audit log fsync failed", extra={"error": str(exc)})
        finally:
            os.close(fd)

    def close(self) -> None:
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(5)
        if self._fsync != "never":
            self.flush()
        with self._lock:
            self._closed = True
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _seq_of(raw: bytes) -> int | None:
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    seq = rec.get("seq") if isinstance(rec, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _count_lines(fd: int, size: int) -> int:
    """Complete lines in the file: the slow way to number the next line when its tail is garbage."""
    count, offset = 0, 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        count += chunk.count(b"\n")
        offset += len(chunk)
    return count
