"""State shared by the operation groups, and the access rules they all apply."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core import validate
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller, KeyRecord, KeyState
from gateway.hsm.port import HsmPort
from gateway.store.port import MetadataStore

SYMMETRIC_SPECS = frozenset({"AES_256", "SM4"})


@dataclass
class Settings:
    cmk_quota: int = 100
    grant_per_cmk_quota: int = 100
    list_limit_max: int = 1000
    batch_max: int = 1000
    data_max_bytes: int = 4096


class CoreBase:
    """Holds the ports; every operation group is a mixin over this."""

    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock, settings: Settings | None = None) -> None:
        self.store = store
        self.hsm = hsm
        self.clock = clock
        self.settings = settings or Settings()

    def now_ms(self) -> int:
        return ms(self.clock.now())

    def _owned_key(self, caller: Caller, key_id: str) -> KeyRecord:
        """The caller's key, whatever its state. Another project's key does not exist."""
        validate.key_id(key_id)
        rec = self.store.get_key(caller.project_id, key_id)
        if rec is None or rec.provisioning:
            raise KmsError(Err.KEY_NOT_FOUND)
        return rec

    def _usable_key(
        self, caller: Caller, key_id: str, *, usage: str = "ENCRYPT_DECRYPT", symmetric: bool = True
    ) -> KeyRecord:
        """A key the caller may use for cryptography now: enabled, and of the right kind."""
        rec = self._owned_key(caller, key_id)
        require_usable(rec)
        if symmetric and rec.key_spec not in SYMMETRIC_SPECS:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} cannot be used for this operation.")
        if rec.key_usage != usage:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key usage {rec.key_usage} does not allow this operation.")
        return rec


def require_usable(rec: KeyRecord) -> None:
    if rec.key_state == KeyState.ENABLED:
        return
    raise KmsError(
        {
            KeyState.DISABLED: Err.KEY_DISABLED,
            KeyState.PENDING_DELETION: Err.KEY_PENDING_DELETION,
            KeyState.PENDING_IMPORT: Err.KEY_PENDING_IMPORT,
        }.get(rec.key_state, Err.KEY_NOT_ENABLED)
    )
