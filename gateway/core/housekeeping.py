"""Background duties: start-up reconciliation and destruction of keys whose date has passed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gateway.core.base import CoreBase
from gateway.hsm.port import key_label

log = logging.getLogger(__name__)
RESERVED_LABEL_PREFIX = "kmsgw:"  # the gateway's own objects (sealing key), never master keys


@dataclass
class ReconcileReport:
    finished: list[str] = field(default_factory=list)  # provisioning rows whose object exists
    removed_rows: list[str] = field(default_factory=list)  # provisioning rows without an object
    destroyed_orphans: list[str] = field(default_factory=list)  # token objects no row knows


class Housekeeping(CoreBase):
    async def reconcile(self) -> ReconcileReport:
        """Make the store and the token agree after a crash.

        A row still marked provisioning was never acknowledged to its caller: if its token
        object exists the key is complete, so finish it; if not, drop the row. A token
        object whose key id has no row (crash after generate, before the row, or a deleted
        key whose object survived) is destroyed: nobody can list or use it.
        """
        report = ReconcileReport()
        labels = set(await self.hsm.secret_key_labels())
        for rec in self.store.provisioning_keys():
            if key_label(rec.key_id, rec.current_version) in labels:
                self.store.update_key(rec.key_id, provisioning=False)
                report.finished.append(rec.key_id)
            else:
                self.store.delete_key(rec.key_id)
                report.removed_rows.append(rec.key_id)
        known = self.store.all_key_ids()
        orphans = [
            lbl for lbl in labels if not lbl.startswith(RESERVED_LABEL_PREFIX) and lbl.split(":", 1)[0] not in known
        ]
        if orphans:
            await self.hsm.destroy(orphans)
            report.destroyed_orphans = orphans
        if report.finished or report.removed_rows or report.destroyed_orphans:
            log.warning(
                "reconciled store and token",
                extra={
                    "finished": report.finished,
                    "removed_rows": report.removed_rows,
                    "destroyed_orphans": report.destroyed_orphans,
                },
            )
        return report

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
