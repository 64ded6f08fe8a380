"""user-instances and user-quotas, counted from the store rather than cached."""

from __future__ import annotations

from gateway.core.model import Caller, Quota
from gateway.core.ports.store import MetadataStore
from gateway.core.settings import Settings


class QuotaOps:
    def __init__(self, store: MetadataStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def get_user_instances(self, caller: Caller) -> int:
        """Customer master keys of the project; default (service) keys are not counted."""
        return self._store.count_keys(caller.project_id)

    def get_user_quotas(self, caller: Caller) -> list[Quota]:
        """CMK: keys counted like user-instances, against ``cmk_quota`` (enforced by create-key).
        grant_per_CMK is a limit per key, so ``used`` is the most grants any one key of the
        project holds: the headroom left on the fullest key."""
        return [
            Quota(type="CMK", used=self._store.count_keys(caller.project_id), quota=self._settings.cmk_quota),
            Quota(
                type="grant_per_CMK",
                used=self._store.max_grants_per_key(caller.project_id),
                quota=self._settings.grant_per_cmk_quota,
            ),
        ]
