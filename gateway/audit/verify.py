"""`kmsgw audit verify`: check an audit file line by line, streaming (files may be GBs).

Per line n: it must be a complete JSON object with exactly the record's keys in order; with
the MAC key, its MAC must match (else the line was edited or forged); its ``seq`` must be n
(else lines are missing, reordered, duplicated or inserted); its ``prev`` must be the SHA-256
of line n-1 (else the line before it was edited, or the chain was spliced). The first failure
stops the walk and is explained by line number (docs/audit.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.audit.trail import FIELDS, GENESIS, MAC_FIELD, MAC_SUFFIX_LEN

LOOKAHEAD_LINES = 100_000  # how far to look for a displaced line before calling it missing
RECENT_LINES = 4096  # hashes remembered to recognise a duplicated line
_SEQ = re.compile(rb'"seq":(\d+),')
_KEYS = list(FIELDS)
_KEYS_MAC = [*FIELDS, MAC_FIELD]
_MAC_PREFIX = b',"mac":"'
_decode = json.JSONDecoder().decode


@dataclass
class Report:
    ok: bool
    lines: int  # lines verified (all of them when ok)
    first_time: str = ""
    last_time: str = ""
    macs_checked: bool = False
    bad_line: int = 0  # the first bad line (1-based) when not ok
    reason: str = ""

    def summary(self, path: Path | str) -> str:
        if not self.ok:
            return f"{path}: line {self.bad_line}: {self.reason}"
        if self.lines == 0:
            return f"{path}: ok, empty"
        macs = "MACs verified" if self.macs_checked else "hash chain only (MACs NOT checked)"
        return f"{path}: ok, {self.lines} lines, {self.first_time} .. {self.last_time}, {macs}"


Progress = Callable[[int, int], None]  # (lines so far, bytes so far)


class _Bad(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def verify(path: Path | str, mac_key: bytes | None, progress: Progress | None = None) -> Report:
    """Walk the file once; ``mac_key`` None checks the hash chain only."""
    with open(path, "rb", buffering=1 << 20) as f:
        # The end to verify up to: taken under a shared flock, so no writer is mid-line there
        # (writers hold the lock exclusively for each append); later lines wait for the next run.
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        try:
            size = os.fstat(f.fileno()).st_size
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return _Walk(f, mac_key, progress, size).run()


class _Walk:
    def __init__(self, f: BinaryIO, key: bytes | None, progress: Progress | None, size: int) -> None:
        self.f = f
        self.size = size
        self.key = key
        self.mac0 = hmac.new(key or b"", digestmod=hashlib.sha256)
        self.progress = progress
        self.report = Report(ok=True, lines=0, macs_checked=key is not None)
        self.prev_hash = GENESIS  # what line n's prev must be
        self.prev_prev = ""  # line n-1's own prev field
        self.recent: OrderedDict[str, int] = OrderedDict()  # hash -> line number

    def run(self) -> Report:
        n = 0
        nbytes = 0
        try:
            for raw in self.f:
                if nbytes >= self.size:
                    break
                n += 1
                nbytes += len(raw)
                self.line(n, raw)
                if self.progress is not None and n % 100_000 == 0:
                    self.progress(n, nbytes)
        except _Bad as bad:
            self.report.ok, self.report.bad_line, self.report.reason = False, bad.line, bad.reason
            self.report.lines = bad.line - 1
            return self.report
        self.report.lines = n
        return self.report

    def line(self, n: int, raw: bytes) -> None:
        if not raw.endswith(b"\n"):
            raise _Bad(n, "incomplete (no newline at the end of the file: a torn or truncated write)")
        raw = raw[:-1]
        try:
            rec = _decode(raw.decode())
        except ValueError:  # UnicodeDecodeError included
            raise _Bad(n, "not JSON") from None
        if not isinstance(rec, dict):
            raise _Bad(n, "not a JSON object")
        keys = list(rec)
        if keys != _KEYS and keys != _KEYS_MAC:
            raise _Bad(n, f"not an audit record (keys {','.join(keys)[:200]})")
        if self.key is not None:
            self.check_mac(n, raw, rec)
        seq = rec["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise _Bad(n, "edited (seq is not an integer)")
        digest = hashlib.sha256(raw).hexdigest()
        if seq != n:
            self.explain_seq(n, seq, digest, rec)
        if rec["prev"] != self.prev_hash:
            if self.key is None and n > 1:
                raise _Bad(n - 1, f"edited (its SHA-256 is not line {n}'s prev), or line {n}'s prev was edited")
            raise _Bad(n, f"out of chain (prev is not the SHA-256 of line {n - 1})" if n > 1 else "prev is not genesis")
        if n == 1:
            self.report.first_time = str(rec["time"])
        self.report.last_time = str(rec["time"])
        self.prev_hash, self.prev_prev = digest, rec["prev"]
        self.recent[digest] = n
        if len(self.recent) > RECENT_LINES:
            self.recent.popitem(last=False)

    def check_mac(self, n: int, raw: bytes, rec: dict) -> None:
        if MAC_FIELD not in rec:
            raise _Bad(n, "edited (no MAC)")
        suffix = raw[-MAC_SUFFIX_LEN:]
        if not (suffix.startswith(_MAC_PREFIX) and suffix.endswith(b'"}')):
            raise _Bad(n, "edited (MAC field malformed)")
        mac = self.mac0.copy()  # the keyed state is built once; copying it is cheaper than hmac.new
        mac.update(raw[:-MAC_SUFFIX_LEN])
        want = mac.hexdigest().encode()
        if not hmac.compare_digest(want, suffix[len(_MAC_PREFIX) : -2]):
            raise _Bad(n, "edited or forged (MAC does not match)")

    def explain_seq(self, n: int, seq: int, digest: str, rec: dict) -> None:
        if seq < n:
            dup = self.recent.get(digest)
            if dup is not None:
                raise _Bad(n, f"duplicate of line {dup}")
            if seq == n - 1 and rec["prev"] == self.prev_prev:
                raise _Bad(n - 1, f"inserted (lines {n - 1} and {n} both claim to follow line {n - 2})")
            raise _Bad(n, f"reordered or inserted (seq {seq} at line {n})")
        found = self.find_seq(n)
        if found is None:
            missing = f"line {n}" if seq == n + 1 else f"lines {n}..{seq - 1}"
            raise _Bad(n, f"missing {missing} (seq {seq} follows seq {n - 1})")
        if found == n + 1 and seq == n + 1:
            raise _Bad(n, f"reordered (swapped with line {n + 1})")
        if found == n + 1:
            raise _Bad(n, f"inserted (seq {seq} out of place; line {n + 1} has seq {n})")
        raise _Bad(n, f"reordered (seq {seq} at line {n}; seq {n} is at line {found})")

    def find_seq(self, n: int) -> int | None:
        """The line number of the first later line whose seq is n, within LOOKAHEAD_LINES."""
        for j, raw in zip(range(n + 1, n + 1 + LOOKAHEAD_LINES), _rest(self.f), strict=False):
            m = _SEQ.search(raw)
            if m is not None and int(m.group(1)) == n:
                return j
        return None


def _rest(f: BinaryIO) -> Iterator[bytes]:
    yield from f
