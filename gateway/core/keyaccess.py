"""The key catalog as operations see it: which key rows a caller may touch, and whether they are usable.

Every operation group receives one :class:`KeyAccess`: it owns the short cache of key rows the hot
path reads, the ownership and grant rule, and the state and kind checks before cryptography.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from gateway.core import validate
from gateway.core.errors import Err, KmsError
from gateway.core.keyspecs import KeySpecPolicy, is_symmetric
from gateway.core.model import Caller, KeyRecord, KeyState, KeyUsage
from gateway.core.operations import GRANTABLE_OPERATIONS  # the names a grant's operations list may hold
from gateway.core.ports.store import MetadataStore
from gateway.core.settings import Settings

KEY_CACHE_MAX = 10_000
_STATE_ERRORS = {
    KeyState.DISABLED: Err.KEY_DISABLED,
    KeyState.PENDING_DELETION: Err.KEY_PENDING_DELETION,
    KeyState.PENDING_IMPORT: Err.KEY_PENDING_IMPORT,
}


def require_usable(rec: KeyRecord) -> None:
    """The key is enabled, or the error its state calls for."""
    if rec.key_state != KeyState.ENABLED:
        raise KmsError(_STATE_ERRORS.get(rec.key_state, Err.KEY_NOT_ENABLED))


class KeyAccess:
    def __init__(self, store: MetadataStore, settings: Settings, specs: KeySpecPolicy) -> None:
        self._store = store
        self._settings = settings
        self._specs = specs
        self._rows: dict[str, tuple[float, int, KeyRecord]] = {}  # key id -> (expiry, generation, row)

    def row(self, key_id: str, *, cached: bool) -> KeyRecord | None:
        """The store's row of a key; with ``cached``, a copy of a recent read when still valid."""
        ttl = self._settings.key_cache_seconds
        if not cached or ttl <= 0:
            return self._store.get_key_by_id(key_id)
        now = time.monotonic()
        hit = self._rows.get(key_id)
        if hit is not None and hit[0] > now and hit[1] == self._store.generation:
            return copy.copy(hit[2])
        generation = self._store.generation
        rec = self._store.get_key_by_id(key_id)
        if rec is not None:
            if len(self._rows) >= KEY_CACHE_MAX:
                self._rows.clear()
            self._rows[key_id] = (now + ttl, generation, copy.copy(rec))
        return rec

    def owned(self, caller: Caller, key_id: str, operation: str = "", *, cached: bool = False) -> KeyRecord:
        """The key, whatever its state, if the caller may run ``operation`` (an API name) on it.

        The owner project may run anything. Anyone else needs a live grant naming its user id
        or its domain id (one indexed lookup, made only for a caller that is not the owner):
        without any grant the key does not exist for it (KEY_NOT_FOUND, as for a key that does
        not exist); with grants that do not cover ``operation`` it is denied. ``operation`` ""
        (the default) means the owner only.
        """
        validate.key_id(key_id)
        rec = self.row(key_id, cached=cached)
        if rec is None or rec.provisioning:
            raise KmsError(Err.KEY_NOT_FOUND)
        if rec.project_id == caller.project_id:
            return rec
        granted = self._store.granted_operations(key_id, caller.user_id, caller.domain_id)
        if granted is None:
            raise KmsError(Err.KEY_NOT_FOUND)
        if operation not in GRANTABLE_OPERATIONS or operation not in granted:
            raise KmsError(Err.KEY_ACCESS_DENIED, f"No grant on this key allows {operation or 'this operation'}.")
        return rec

    def usable(
        self,
        caller: Caller,
        key_id: str,
        *,
        usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT,
        symmetric: bool = True,
        operation: str = "",
        cached: bool = True,
    ) -> KeyRecord:
        """A key the caller may use for cryptography now: enabled, and of the right kind.

        The hot path reads the key row through the short cache (``Settings.key_cache_seconds``);
        grants are always read fresh, so a revocation counts on the next request.
        """
        rec = self.owned(caller, key_id, operation, cached=cached)
        require_usable(rec)
        if symmetric and not is_symmetric(rec.key_spec):
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} cannot be used for this operation.")
        if rec.key_usage != usage:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key usage {rec.key_usage} does not allow this operation.")
        if symmetric:
            self._specs.check_data_path(rec.key_spec)
        return rec

    def batch_checker(self, caller: Caller, operation: str) -> Callable[[str], KeyRecord]:
        """The access check of one batch, made once per distinct key id (not once per item):
        the same rule for every item, one store read per key instead of one per item."""
        seen: dict[str, KeyRecord | KmsError] = {}

        def usable(key_id: str) -> KeyRecord:
            hit = seen.get(key_id)
            if hit is None:
                try:
                    hit = self.usable(caller, key_id, operation=operation)
                except KmsError as exc:
                    hit = exc
                seen[key_id] = hit
            if isinstance(hit, KmsError):
                raise KmsError(hit.err, hit.detail)
            return hit

        return usable
