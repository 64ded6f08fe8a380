"""Request ids: unique across processes and restarts, and drawn without a system call.

An id is a prefix of 80 random bits, drawn once per process (again in a forked child), and a
counter. Ids of one process never repeat; two processes' ids collide only if their prefixes do
(below one chance in 10^12 among a million processes; 10^10 for the UUID-shaped ids, which keep
72 of the bits), and a restart draws a new prefix. Not
``os.urandom`` (nor ``uuid4``) per request: it is a system call, which releases the GIL, and a
busy worker's event loop then waits for its HSM thread to hand the GIL back.

Request ids are not secrets and guard nothing: they name a request in its answer, the logs and the
audit trail. One process's ids are consecutive, so whoever saw one can guess the next; that is
harmless for naming, and nothing may use them as tokens.
"""

from __future__ import annotations

import itertools
import os

_prefix = ""
_counter = itertools.count(1)


def _draw_prefix() -> None:
    global _prefix, _counter
    _prefix = os.urandom(10).hex()  # 20 hex digits
    _counter = itertools.count(1)


_draw_prefix()
os.register_at_fork(after_in_child=_draw_prefix)  # a forked child must not repeat its parent's ids


def new_request_id() -> str:
    """32 lowercase hex digits (the shape of a hex UUID): the prefix and a 12-digit counter
    (longer after 2^48 ids of one process)."""
    return f"{_prefix}{next(_counter):012x}"


def new_uuid_shaped_request_id() -> str:
    """The same, shaped as a version-4 UUID (AWS's ``x-amzn-RequestId``): 72 bits of the prefix."""
    p = _prefix
    return f"{p[:8]}-{p[8:12]}-4{p[12:15]}-a{p[15:18]}-{next(_counter):012x}"
