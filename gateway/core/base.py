"""State shared by the operation groups, and the access rules they all apply."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

from gateway.core import validate
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller, KeyRecord, KeyState
from gateway.core.ports.store import MetadataStore
from gateway.hsm.port import HsmPort

KEY_CACHE_MAX = 10_000
SYMMETRIC_SPECS = frozenset({"AES_256", "SM4"})
# Operations a grant may allow (the SDK's list); every other operation is the owner project's alone.
GRANTABLE_OPERATIONS = frozenset(
    {
        "create-datakey",
        "create-datakey-without-plaintext",
        "encrypt-datakey",
        "decrypt-datakey",
        "describe-key",
        "create-grant",
        "retire-grant",
        "encrypt-data",
        "decrypt-data",
    }
)


@dataclass
class Settings:
    cmk_quota: int = 100
    grant_per_cmk_quota: int = 100
    list_limit_max: int = 1000
    batch_max: int = 1000
    data_max_bytes: int = 4096
    # key spec -> vendor mechanism numbers laid over the built-in table (gateway/hsm/mechanisms.py)
    mechanisms: dict = field(default_factory=dict)
    # BYOK with an OAEP hash the token's C_UnwrapKey lacks (SoftHSM2: SHA-256): decode OAEP in the
    # gateway, so the material passes through its memory. Off: such imports are refused.
    software_oaep_unwrap: bool = False
    # How long a key row read for a cryptographic call may be reused by this process. Any change
    # to the store drops the cache through ``store.generation``: this process's writes at once,
    # another worker's or node's within milliseconds (SQLite data_version poll, PostgreSQL
    # NOTIFY; docs/postgres.md). This TTL is the backstop bound. 0: read the store on every call.
    key_cache_seconds: float = 1.0
    # Recovery (housekeeping.py, docs/recovery.md): a token object that no row knows is reported at
    # once and destroyed only this long after it was first seen (a restored store, a node mid-create).
    orphan_grace_seconds: float = 3600.0
    # A provisioning key row or pending version younger than this may belong to a live node still
    # generating its object: reconciliation leaves it alone until then.
    provisioning_timeout_seconds: float = 300.0


class CoreBase:
    """Holds the ports; every operation group is a mixin over this."""

    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock, settings: Settings | None = None) -> None:
        self.store = store
        self.hsm = hsm
        self.clock = clock
        self.settings = settings or Settings()
        self._key_rows: dict[str, tuple[float, int, KeyRecord]] = {}

    def now_ms(self) -> int:
        return ms(self.clock.now())

    def _key_row(self, key_id: str, *, cached: bool) -> KeyRecord | None:
        """The store's row of a key; with ``cached``, a copy of a recent read when still valid."""
        ttl = self.settings.key_cache_seconds
        if not cached or ttl <= 0:
            return self.store.get_key_by_id(key_id)
        now = time.monotonic()
        hit = self._key_rows.get(key_id)
        if hit is not None and hit[0] > now and hit[1] == self.store.generation:
            return copy.copy(hit[2])
        generation = self.store.generation
        rec = self.store.get_key_by_id(key_id)
        if rec is not None:
            if len(self._key_rows) >= KEY_CACHE_MAX:
                self._key_rows.clear()
            self._key_rows[key_id] = (now + ttl, generation, copy.copy(rec))
        return rec

    def _owned_key(self, caller: Caller, key_id: str, operation: str = "", *, cached: bool = False) -> KeyRecord:
        """The key, whatever its state, if the caller may run ``operation`` (an API name) on it.

        The owner project may run anything. Anyone else needs a live grant naming its user id
        or its domain id (one indexed lookup, made only for a caller that is not the owner):
        without any grant the key does not exist for it (KEY_NOT_FOUND, as for a key that does
        not exist); with grants that do not cover ``operation`` it is denied. ``operation`` ""
        (the default) means the owner only.
        """
        validate.key_id(key_id)
        rec = self._key_row(key_id, cached=cached)
        if rec is None or rec.provisioning:
            raise KmsError(Err.KEY_NOT_FOUND)
        if rec.project_id == caller.project_id:
            return rec
        granted = self.store.granted_operations(key_id, caller.user_id, caller.domain_id)
        if granted is None:
            raise KmsError(Err.KEY_NOT_FOUND)
        if operation not in GRANTABLE_OPERATIONS or operation not in granted:
            raise KmsError(Err.KEY_ACCESS_DENIED, f"No grant on this key allows {operation or 'this operation'}.")
        return rec

    def _usable_key(
        self,
        caller: Caller,
        key_id: str,
        *,
        usage: str = "ENCRYPT_DECRYPT",
        symmetric: bool = True,
        operation: str = "",
        cached: bool = True,
    ) -> KeyRecord:
        """A key the caller may use for cryptography now: enabled, and of the right kind.

        The hot path reads the key row through the short cache (``Settings.key_cache_seconds``);
        grants are always read fresh, so a revocation counts on the next request.
        """
        rec = self._owned_key(caller, key_id, operation, cached=cached)
        require_usable(rec)
        if symmetric and rec.key_spec not in SYMMETRIC_SPECS:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key spec {rec.key_spec} cannot be used for this operation.")
        if rec.key_usage != usage:
            raise KmsError(Err.KEY_USAGE_MISMATCH, f"Key usage {rec.key_usage} does not allow this operation.")
        if symmetric and rec.key_spec == "SM4":
            self._check_sm4_data_path()  # type: ignore[attr-defined]  # asymmetric.py
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
