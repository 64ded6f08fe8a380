"""Key rotation: settings, status, rotate on demand, and the scheduler's sweep.

A rotation makes a new token object ``<key_id>:v<n+1>`` and moves ``current_version`` to it:
new encryptions use the newest version, and every older version stays on the token so what
it sealed keeps decrypting (ciphertexts name their version). Only symmetric keys whose
material the gateway generated (origin ``kms``) rotate.

Crash safety, in the order of the writes:
1. a pending ``key_versions`` row claims version n+1 (a second rotation racing for the same
   version loses here, before touching the token);
2. the token object is generated (any stale object with that label is destroyed first);
3. one store transaction settles the row, moves ``current_version`` and the rotation counters.
A crash after 1 or 2 leaves a pending row that ``Housekeeping.reconcile`` settles: finished
if the object exists, dropped if not. Until 3 commits nothing uses version n+1.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from gateway.core import validate
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess, require_usable
from gateway.core.keyspecs import rotatable
from gateway.core.model import Caller, KeyRecord, KeySpec, KeyState, KeyUsage, Origin, RotationStatus
from gateway.core.ports.hsm import HsmPort, key_label
from gateway.core.ports.store import MetadataStore

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
ROTATION_INTERVAL_DAYS = (30, 365)
DEFAULT_ROTATION_INTERVAL = 365


class RotationOps:
    def __init__(self, store: MetadataStore, hsm: HsmPort, keys: KeyAccess, clock: Clock) -> None:
        self._store = store
        self._hsm = hsm
        self._keys = keys
        self._clock = clock
        # One rotation of a key at a time in this process; a lock lives while some rotation holds it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _now_ms(self) -> int:
        return ms(self._clock.now())

    def enable_key_rotation(self, caller: Caller, key_id: str, sequence: str | None = None) -> RotationStatus:
        validate.sequence(sequence)
        rec = self._rotatable_key(caller, key_id, "enable-key-rotation")
        require_usable(rec)
        row = self._store.get_rotation(rec.key_id)
        if row is not None and row.enabled:
            raise KmsError(Err.ROTATION_NOT_DISABLED, "Key rotation is already enabled.")
        interval = row.interval_days if row is not None else DEFAULT_ROTATION_INTERVAL
        self._store.put_rotation(rec.key_id, enabled=True, interval_days=interval, base_at=self._now_ms())
        return self._status(rec)

    def disable_key_rotation(self, caller: Caller, key_id: str, sequence: str | None = None) -> RotationStatus:
        validate.sequence(sequence)
        rec = self._rotatable_key(caller, key_id, "disable-key-rotation")
        row = self._store.get_rotation(rec.key_id)
        if row is None or not row.enabled:
            raise KmsError(Err.ROTATION_NOT_ENABLED)
        self._store.put_rotation(rec.key_id, enabled=False, interval_days=row.interval_days, base_at=row.base_at)
        return self._status(rec)

    def update_key_rotation_interval(
        self, caller: Caller, key_id: str, rotation_interval: int, sequence: str | None = None
    ) -> RotationStatus:
        """Set the interval (days). When rotation is on, the next rotation is due that many days
        after the last one (or after rotation was enabled), so shortening it may make a key due."""
        validate.sequence(sequence)
        validate.key_id(key_id)
        if (
            isinstance(rotation_interval, bool)
            or not isinstance(rotation_interval, int)
            or not ROTATION_INTERVAL_DAYS[0] <= rotation_interval <= ROTATION_INTERVAL_DAYS[1]
        ):
            raise KmsError(Err.INVALID_ROTATION_INTERVAL)
        rec = self._rotatable_key(caller, key_id, "update-key-rotation-interval")
        row = self._store.get_rotation(rec.key_id)
        enabled = bool(row and row.enabled)
        base_at = row.base_at if row is not None else self._now_ms()
        self._store.put_rotation(rec.key_id, enabled=enabled, interval_days=rotation_interval, base_at=base_at)
        return self._status(rec)

    def get_key_rotation_status(self, caller: Caller, key_id: str, sequence: str | None = None) -> RotationStatus:
        validate.sequence(sequence)
        return self._status(self._keys.owned(caller, key_id, "get-key-rotation-status"))

    async def rotate_on_demand(self, caller: Caller, key_id: str, sequence: str | None = None) -> RotationStatus:
        validate.sequence(sequence)
        rec = self._rotatable_key(caller, key_id, "rotate-on-demand")
        require_usable(rec)
        await self._rotate(rec)
        return self._status(self._keys.owned(caller, key_id, "rotate-on-demand"))

    async def rotate_due_keys(self) -> list[str]:
        """Rotate every enabled key whose interval has passed (the background loop calls this).

        A key that is disabled when it falls due is rotated on the first sweep after it is
        enabled again. One key's failure is logged and does not stop the others.
        """
        rotated = []
        for rec in self._store.keys_due_for_rotation(self._now_ms(), DAY_MS):
            if not rotatable(rec):
                continue
            try:
                version = await self._rotate(rec, only_from=rec.current_version)
            except KmsError as exc:
                log.warning("scheduled rotation skipped", extra={"key_id": rec.key_id, "error": exc.err.name})
                continue
            except Exception:
                log.exception("scheduled rotation failed", extra={"key_id": rec.key_id})
                continue
            if version is not None:
                rotated.append(rec.key_id)
                log.info("key rotated", extra={"key_id": rec.key_id, "version": version})
        return rotated

    def rotation_enabled_keys(self, keys: list[KeyRecord]) -> set[str]:
        """Which of these (already authorized) keys rotate automatically: one query for a page."""
        return self._store.rotation_enabled_among([k.key_id for k in keys])

    # -- internals --------------------------------------------------------------------
    def _rotatable_key(self, caller: Caller, key_id: str, operation: str) -> KeyRecord:
        rec = self._keys.owned(caller, key_id, operation)
        if rec.origin != Origin.KMS:
            raise KmsError(Err.ROTATION_EXTERNAL_KEY)
        if not rotatable(rec):
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Keys of spec {rec.key_spec} cannot be rotated.")
        if rec.key_state == KeyState.PENDING_DELETION:
            raise KmsError(Err.KEY_PENDING_DELETION)
        return rec

    async def _rotate(self, rec: KeyRecord, *, only_from: int | None = None) -> int | None:
        """Make version n+1 and make it current; returns the new version.

        ``only_from``: rotate only if the key is still at that version (the scheduler's guard
        against rotating twice when an on-demand rotation got there first); None when skipped.
        """
        lock = self._locks.get(rec.key_id)
        if lock is None:
            lock = self._locks[rec.key_id] = asyncio.Lock()
        async with lock:  # one rotation of a key at a time in this process
            fresh = self._store.get_key_by_id(rec.key_id)
            if fresh is None or fresh.provisioning:
                raise KmsError(Err.KEY_NOT_FOUND)
            if only_from is not None and fresh.current_version != only_from:
                return None
            version = fresh.current_version + 1
            label = key_label(rec.key_id, version)
            if not self._store.begin_key_version(rec.key_id, version, self._now_ms()):
                raise KmsError(Err.ROTATION_IN_PROGRESS)  # another process holds this version
            try:
                await self._hsm.destroy([label])  # a leftover of an attempt the store never recorded
                await self._hsm.create_key(label, rec.key_id, KeySpec.AES_256, KeyUsage.ENCRYPT_DECRYPT)
            except BaseException:
                self._store.drop_key_version(rec.key_id, version)
                raise
            if not self._store.finish_key_version(rec.key_id, version, self._now_ms()):
                # A reconcile in another process got to our pending row first. If it finished the
                # version, the object is in use; if it dropped the row, nothing refers to the object
                # and it must not outlive this call.
                now = self._store.get_key_by_id(rec.key_id)
                if now is not None and now.current_version >= version:
                    return version
                await self._hsm.destroy([label])
                raise KmsError(Err.ROTATION_IN_PROGRESS)
            return version

    def _status(self, rec: KeyRecord) -> RotationStatus:
        row = self._store.get_rotation(rec.key_id)
        return RotationStatus(
            key_id=rec.key_id,
            key_rotation_enabled=bool(row and row.enabled),
            rotation_interval=row.interval_days if row is not None else DEFAULT_ROTATION_INTERVAL,
            last_rotation_time=row.last_rotation_at if row is not None else None,
            number_of_rotations=row.rotations if row is not None else 0,
            current_version=rec.current_version,
        )
