"""Background duties: start-up reconciliation and destruction of keys whose date has passed."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from gateway.core.base import CoreBase
from gateway.hsm.port import key_label

log = logging.getLogger(__name__)
RESERVED_LABEL_PREFIX = "kmsgw:"  # the gateway's own objects (sealing key), never master keys
_VERSION_LABEL = re.compile(r"^([0-9a-f-]{36}):v(\d+)$")


@dataclass
class ReconcileReport:
    finished: list[str] = field(default_factory=list)  # provisioning rows whose object exists
    removed_rows: list[str] = field(default_factory=list)  # provisioning rows without an object
    destroyed_orphans: list[str] = field(default_factory=list)  # token objects no row knows
    finished_versions: list[str] = field(default_factory=list)  # pending rotations whose object exists
    removed_versions: list[str] = field(default_factory=list)  # pending rotations without an object


class Housekeeping(CoreBase):
    async def reconcile(self) -> ReconcileReport:
        """Make the store and the token agree after a crash.

        A row still marked provisioning was never acknowledged to its caller: if its token
        object exists the key is complete, so finish it; if not, drop the row. A token
        object whose key id has no row (crash after generate, before the row, or a deleted
        key whose object survived) is destroyed: nobody can list or use it. Rotations get the
        same treatment for their pending version rows (see rotation.py).
        """
        report = ReconcileReport()
        labels = set(await self.hsm.secret_key_labels())
        labels |= set(await self.hsm.private_key_labels())  # type: ignore[attr-defined]  # key pairs
        for rec in self.store.provisioning_keys():
            if key_label(rec.key_id, rec.current_version) in labels:
                self.store.update_key(rec.key_id, provisioning=False)
                report.finished.append(rec.key_id)
            else:
                self.store.delete_key(rec.key_id)
                report.removed_rows.append(rec.key_id)
        self._settle_pending_versions(labels, report)
        known = self.store.all_key_ids()
        orphans = [
            lbl for lbl in labels if not lbl.startswith(RESERVED_LABEL_PREFIX) and lbl.split(":", 1)[0] not in known
        ]
        orphans += self._stray_versions(labels, known)
        if orphans:
            await self.hsm.destroy(orphans)
            report.destroyed_orphans = orphans
        changed = (report.finished, report.removed_rows, report.finished_versions, report.removed_versions)
        if any(changed) or report.destroyed_orphans:
            log.warning(
                "reconciled store and token",
                extra={
                    "finished": report.finished,
                    "removed_rows": report.removed_rows,
                    "destroyed_orphans": report.destroyed_orphans,
                    "finished_versions": report.finished_versions,
                    "removed_versions": report.removed_versions,
                },
            )
        return report

    def _settle_pending_versions(self, labels: set[str], report: ReconcileReport) -> None:
        """A rotation that crashed between its pending row and its last commit (see rotation.py):
        finish it when the token object exists, else drop the row; either way nothing used it."""
        for key_id, version in self.store.pending_key_versions():
            label = key_label(key_id, version)
            if label in labels and self.store.finish_key_version(key_id, version, self.now_ms()):
                report.finished_versions.append(label)
            else:
                self.store.drop_key_version(key_id, version)
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
                highest[key_id] = max(self.store.key_versions(key_id), default=1)
            if version > highest[key_id]:
                stray.append(lbl)
        return stray

    async def delete_due_keys(self) -> list[str]:
        """Destroy on the token, then forget, every key whose scheduled deletion date has passed."""
        deleted = []
        for rec in self.store.keys_due_for_deletion(self.now_ms()):
            versions = self.store.key_versions(rec.key_id) or [rec.current_version]
            await self.hsm.destroy([key_label(rec.key_id, v) for v in versions])
            self.store.delete_key(rec.key_id)
            deleted.append(rec.key_id)
            log.info("key deleted", extra={"key_id": rec.key_id})
        return deleted
