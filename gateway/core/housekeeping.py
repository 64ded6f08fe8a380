"""Background duties: reconciliation of store and token, and destruction of keys whose date has passed.

Reconciliation runs at start-up and again from every periodic sweep (docs/recovery.md):
- a key row still marked ``provisioning`` (or a pending version row) older than
  ``provisioning_timeout_seconds`` is a crash's leftover: finished when its token object exists,
  dropped when not. A younger one may belong to another node still generating its object.
- a token object that no row knows (an orphan) is reported at once and destroyed only once
  ``orphan_grace_seconds`` have passed since it was first seen (the time is kept in the store), so a
  store restored from a backup or a mistaken configuration does not cost keys at the first start.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from gateway.core.clock import Clock, ms
from gateway.core.ports.hsm import RESERVED_LABEL_PREFIX, HsmPort, key_label
from gateway.core.ports.store import MetadataStore
from gateway.core.settings import Settings

log = logging.getLogger(__name__)
_VERSION_LABEL = re.compile(r"^([0-9a-f-]{36}):v(\d+)$")
SWEEP_RECONCILE_MIN_S = 30.0  # the sweep skips its reconcile this soon after another (start-up ran one)


@dataclass
class ReconcileReport:
    finished: list[str] = field(default_factory=list)  # provisioning rows whose object exists
    removed_rows: list[str] = field(default_factory=list)  # provisioning rows without an object
    in_flight: list[str] = field(default_factory=list)  # fresh provisioning rows left to their creator
    orphans: list[str] = field(default_factory=list)  # token objects no row knows (destroyed or waiting)
    destroyed_orphans: list[str] = field(default_factory=list)  # orphans past their grace period, destroyed
    finished_versions: list[str] = field(default_factory=list)  # pending rotations whose object exists
    removed_versions: list[str] = field(default_factory=list)  # pending rotations without an object


class Housekeeping:
    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._hsm = hsm
        self._clock = clock
        self._settings = settings
        self._reconciled_at: float | None = None  # monotonic time of this process's last reconcile

    def _now_ms(self) -> int:
        return ms(self._clock.now())

    async def reconcile(self, *, at_start: bool = True) -> ReconcileReport:
        """Make the store and the token agree after a crash.

        A row still marked provisioning was never acknowledged to its caller: if its token
        object exists the key is complete, so finish it; if not, drop the row. A token
        object whose key id has no row (crash after generate, before the row, or a deleted
        key whose object survived) can be listed or used by nobody: it is reported, then
        destroyed after the grace period. Rotations get the same treatment for their pending
        version rows (see rotation.py).

        Order matters with several nodes: the token is listed *before* the store is read. A
        creator writes its row before its object, so every object in the listing has its row
        by the time the store is read; the other order would take a key being made for an orphan.

        In-flight rows: at start-up on a store no other host shares (SQLite; workers are spawned
        after this), nobody else can be writing, so every in-flight row is a crash's leftover and is
        settled at once. On a shared store (PostgreSQL), and in the periodic sweep, another process
        may be making that key right now: only rows older than ``provisioning_timeout_seconds`` are
        settled. Either way a creator whose row was settled under it never acknowledges a key that
        does not exist (``finish_provisioning`` / ``finish_key_version`` tell it).
        """
        report = ReconcileReport()
        self._reconciled_at = time.monotonic()
        labels = set(await self._hsm.secret_key_labels())
        labels |= set(await self._hsm.private_key_labels())  # key pairs
        now = self._now_ms()
        exclusive = at_start and not self._store.shared
        cutoff = now + 1 if exclusive else now - int(self._settings.provisioning_timeout_seconds * 1000)
        for rec in self._store.provisioning_keys():
            if rec.creation_date > cutoff:
                report.in_flight.append(rec.key_id)
            elif key_label(rec.key_id, rec.current_version) in labels:
                self._store.finish_provisioning(rec.key_id)
                report.finished.append(rec.key_id)
            elif self._store.drop_provisioning(rec.key_id):  # only while still in flight: never an acknowledged key
                report.removed_rows.append(rec.key_id)
        self._settle_pending_versions(labels, cutoff, report)
        known = self._store.all_key_ids()
        orphans = [
            lbl for lbl in labels if not lbl.startswith(RESERVED_LABEL_PREFIX) and lbl.split(":", 1)[0] not in known
        ]
        orphans += self._stray_versions(labels, known)
        await self._handle_orphans(sorted(orphans), now, report)
        changed = (report.finished, report.removed_rows, report.finished_versions, report.removed_versions)
        if any(changed):
            log.warning(
                "reconciled store and token",
                extra={
                    "finished": report.finished,
                    "removed_rows": report.removed_rows,
                    "finished_versions": report.finished_versions,
                    "removed_versions": report.removed_versions,
                },
            )
        return report

    async def sweep_reconcile(self) -> ReconcileReport | None:
        """The periodic sweep's pass: a reconcile, unless this process ran one moments ago (start-up)."""
        last = self._reconciled_at
        if last is not None and time.monotonic() - last < SWEEP_RECONCILE_MIN_S:
            return None
        return await self.reconcile(at_start=False)

    async def _handle_orphans(self, orphans: list[str], now: int, report: ReconcileReport) -> None:
        """Report every orphan (labels are not secrets); destroy those past the grace period."""
        first_seen = self._store.note_orphans(orphans, now)
        report.orphans = orphans
        if not orphans:
            return
        grace_ms = int(self._settings.orphan_grace_seconds * 1000)
        due = [lbl for lbl in orphans if first_seen.get(lbl, now) + grace_ms <= now]
        new = [lbl for lbl in orphans if first_seen.get(lbl, now) == now]
        waiting = {lbl: (first_seen[lbl] + grace_ms - now) // 1000 for lbl in orphans if lbl not in due}
        log.log(
            logging.WARNING if new or due else logging.INFO,
            "orphan token objects",
            extra={
                "count": len(orphans),
                "labels": orphans,
                "new": len(new),
                "destroying": due,
                "destroy_in_seconds": waiting,
            },
        )
        if due:
            await self._hsm.destroy(due)
            self._store.forget_orphans(due)
            report.destroyed_orphans = due

    def _settle_pending_versions(self, labels: set[str], cutoff: int, report: ReconcileReport) -> None:
        """A rotation that crashed between its pending row and its last commit (see rotation.py):
        finish it when the token object exists, else drop the row; either way nothing used it.
        Rows begun after ``cutoff`` may be a live rotation on another node and are left alone."""
        for key_id, version in self._store.stale_pending_key_versions(cutoff):
            label = key_label(key_id, version)
            if label in labels and self._store.finish_key_version(key_id, version, self._now_ms()):
                report.finished_versions.append(label)
            else:
                self._store.drop_key_version(key_id, version)
                report.removed_versions.append(label)

    def _stray_versions(self, labels: set[str], known: set[str]) -> list[str]:
        """Objects ``<key_id>:v<n>`` of a known key beyond every version the store recorded: made
        by a rotation whose row was dropped. Left alone they would collide with the next rotation."""
        stray = []
        highest: dict[str, int] = {}
        for lbl in labels:
            m = _VERSION_LABEL.match(lbl)
            if m is None or m.group(1) not in known or int(m.group(2)) <= 1:
                continue
            key_id, version = m.group(1), int(m.group(2))
            if key_id not in highest:
                highest[key_id] = max(self._store.key_versions(key_id), default=1)
            if version > highest[key_id]:
                stray.append(lbl)
        return stray

    async def delete_due_keys(self) -> list[str]:
        """Destroy on the token, then forget, every key whose scheduled deletion date has passed."""
        deleted = []
        for rec in self._store.keys_due_for_deletion(self._now_ms()):
            versions = self._store.key_versions(rec.key_id) or [rec.current_version]
            await self._hsm.destroy([key_label(rec.key_id, v) for v in versions])
            self._store.delete_key(rec.key_id)
            deleted.append(rec.key_id)
            log.info("key deleted", extra={"key_id": rec.key_id})
        return deleted
