"""Start-up claims shared by every process on a data dir: who reconciles, and the gateway's own keys."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.core.auth import SEAL_KEY_LABEL
from gateway.core.byok import TOKEN_KEY_LABEL
from gateway.core.leases import SETUP_LEASE, exclusive_sync
from gateway.core.xks import HEALTH_KEY_LABEL

if TYPE_CHECKING:
    from gateway.core.ports.store import LeaseStore

log = logging.getLogger(__name__)

_SERVE_LOCKS: list[int] = []  # held for the life of the process (closing the fd would release them)


@contextmanager
def serve_claim(data_dir: Path) -> Iterator[bool]:
    """Whether this is the only `kmsgw serve` on ``data_dir``, for start-up reconciliation.

    Every serve holds a shared ``flock`` on ``serve.lock`` for its lifetime. A serve that gets it
    exclusively is alone: it keeps it exclusive for the ``with`` block (so no other serve starts
    creating keys while it settles every in-flight row of a crash), then shares it. One that does
    not is not alone: its reconciliation must leave fresh in-flight rows to their makers.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / "serve.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    _SERVE_LOCKS.append(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        alone = True
    except BlockingIOError:
        alone = False
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a serve that is alone reconciles
    try:
        yield alone
    finally:
        if alone:
            fcntl.flock(fd, fcntl.LOCK_SH)


def ensure_own_keys(store: LeaseStore, run_sync: Callable[[Callable[[Any], Any]], Any]) -> None:
    """The gateway's own token keys (the sealing key, the import-token key, the XKS health-check key),
    made once on a fresh token (or once after an upgrade that added one).

    Processes or nodes opening one fresh token at the same moment would each make one: two objects
    with one label, and every later lookup of that label fails. So they are made under the setup
    lease in the shared store, re-checked once it is held. ``run_sync`` runs a job on the HSM executor.
    """
    labels = (SEAL_KEY_LABEL, TOKEN_KEY_LABEL, HEALTH_KEY_LABEL)

    def missing(t: Any) -> list[str]:
        return [label for label in labels if not t.has_key(label)]

    def make(t: Any) -> list[str]:
        made = missing(t)
        for label in made:
            t.generate_aes_key(label)
        return made

    if not run_sync(missing):
        return  # every start but the first: no store write
    with exclusive_sync(store, SETUP_LEASE):
        made = run_sync(make)
    if made:
        log.info("created the gateway's own token keys", extra={"labels": made})
