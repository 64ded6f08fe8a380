"""Key lifecycle: create, describe, list, enable/disable, deletion, alias and description."""

from __future__ import annotations

import uuid

from gateway.core import keyspecs, validate
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess
from gateway.core.keyspecs import KeySpecPolicy
from gateway.core.model import Caller, KeyPage, KeyRecord, KeySpec, KeyState, Origin
from gateway.core.ports.hsm import HsmPort, key_label
from gateway.core.ports.store import DuplicateAlias, MetadataStore
from gateway.core.settings import Settings

DAY_MS = 86_400_000
PENDING_DAYS = (7, 1096)


class KeyLifecycle:
    def __init__(
        self,
        store: MetadataStore,
        hsm: HsmPort,
        keys: KeyAccess,
        specs: KeySpecPolicy,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._store = store
        self._hsm = hsm
        self._keys = keys
        self._specs = specs
        self._clock = clock
        self._settings = settings

    async def create_key(
        self,
        caller: Caller,
        *,
        key_alias: str,
        key_description: str = "",
        key_spec: str = "",
        key_usage: str = "",
        origin: str = "",
        realm: str = "",
        sequence: str | None = None,
        default_key: bool = False,
    ) -> KeyRecord:
        """Create a master key as a token object.

        Crash safety: the row is written first with ``provisioning`` set (invisible and
        unusable), then the token object is generated, then the flag is cleared. Start-up
        reconciliation finishes or removes whatever a crash left between those steps.
        """
        validate.sequence(sequence)
        if default_key:
            if not (validate.ALIAS_RE.fullmatch(key_alias) and key_alias.endswith(validate.DEFAULT_SUFFIX)):
                raise KmsError(Err.INVALID_ALIAS)
        else:
            validate.user_alias(key_alias)
        validate.description(key_description)
        validate.realm(realm)
        key_origin = keyspecs.parse_origin(origin or Origin.KMS)
        spec, usage = keyspecs.parse_spec_and_usage(key_spec or KeySpec.AES_256, key_usage)
        await self._specs.check_creatable(spec, key_origin)
        if not default_key and self._store.count_keys(caller.project_id) >= self._settings.cmk_quota:
            raise KmsError(Err.KEY_QUOTA_EXCEEDED, f"The project already has {self._settings.cmk_quota} keys.")

        rec = KeyRecord(
            key_id=str(uuid.uuid4()),
            project_id=caller.project_id,
            domain_id=caller.domain_id,
            key_alias=key_alias,
            key_description=key_description,
            key_spec=spec,
            key_usage=usage,
            origin=key_origin,
            key_state=KeyState.PENDING_IMPORT if key_origin == Origin.EXTERNAL else KeyState.ENABLED,
            creation_date=ms(self._clock.now()),
            default_key_flag=default_key,
            realm=realm,
            provisioning=True,
        )
        try:
            self._store.insert_key(rec)
        except DuplicateAlias as exc:
            raise KmsError(Err.DUPLICATE_ALIAS) from exc
        label = key_label(rec.key_id, rec.current_version)
        try:
            if rec.origin == Origin.KMS:  # an external key's material comes later (byok.py)
                await self._hsm.create_key(label, rec.key_id, rec.key_spec, rec.key_usage)
        except BaseException:
            self._store.delete_key(rec.key_id)
            raise
        if not self._store.finish_provisioning(rec.key_id):
            # Took longer than provisioning_timeout_seconds and a reconcile dropped the row as a
            # crash's leftover: the key does not exist, so it must not be acknowledged.
            await self._hsm.destroy([label])
            raise KmsError(Err.HSM_IO, "Key creation timed out; retry.")
        rec.provisioning = False
        return rec

    def describe_key(self, caller: Caller, key_id: str) -> KeyRecord:
        return self._keys.owned(caller, key_id, "describe-key")

    def list_keys(
        self, caller: Caller, *, limit: int | None = None, marker: str | None = None, key_state: int | None = None
    ) -> KeyPage:
        cap = self._settings.list_limit_max
        if limit is None or limit == 0:
            limit = cap
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= cap:
            raise KmsError(Err.INVALID_LIMIT, f"limit must be between 1 and {cap}.")
        offset = 0
        if marker not in (None, ""):
            # An offset this gateway issued: ASCII digits that fit SQLite's 64-bit OFFSET.
            if not (str(marker).isascii() and str(marker).isdigit() and len(str(marker)) <= 18):
                raise KmsError(Err.INVALID_MARKER)
            offset = int(str(marker))
        state = None
        if key_state is not None and key_state != 0:
            try:
                state = KeyState(int(key_state))
            except ValueError as exc:
                raise KmsError(Err.INVALID_PARAMETER, "key_state must be 1 to 5.") from exc
        keys, total = self._store.list_keys(caller.project_id, state, offset, limit)
        truncated = offset + len(keys) < total
        return KeyPage(
            keys=keys, total=total, next_marker=str(offset + len(keys)) if truncated else "", truncated=truncated
        )

    def enable_key(self, caller: Caller, key_id: str) -> KeyRecord:
        rec = self._keys.owned(caller, key_id, "enable-key")
        _not_default(rec)
        if rec.key_state != KeyState.DISABLED:
            raise KmsError(Err.KEY_NOT_DISABLED)
        return self._set_state(rec, KeyState.ENABLED)

    def disable_key(self, caller: Caller, key_id: str) -> KeyRecord:
        rec = self._keys.owned(caller, key_id, "disable-key")
        _not_default(rec)
        if rec.key_state != KeyState.ENABLED:
            raise KmsError(Err.KEY_NOT_ENABLED)
        return self._set_state(rec, KeyState.DISABLED)

    def schedule_key_deletion(self, caller: Caller, key_id: str, pending_days: int) -> KeyRecord:
        validate.key_id(key_id)
        if (
            isinstance(pending_days, bool)
            or not isinstance(pending_days, int)
            or not (PENDING_DAYS[0] <= pending_days <= PENDING_DAYS[1])
        ):
            raise KmsError(Err.INVALID_PENDING_DAYS)
        rec = self._keys.owned(caller, key_id, "schedule-key-deletion")
        _not_default(rec)
        if rec.key_state == KeyState.PENDING_DELETION:
            raise KmsError(Err.ALREADY_PENDING_DELETION)
        when = ms(self._clock.now()) + pending_days * DAY_MS
        # Remember the state to return to on cancel: disabled stays disabled.
        self._store.update_key(rec.key_id, key_state=KeyState.PENDING_DELETION, scheduled_deletion_date=when)
        rec.key_state, rec.scheduled_deletion_date = KeyState.PENDING_DELETION, when
        return rec

    def cancel_key_deletion(self, caller: Caller, key_id: str) -> KeyRecord:
        rec = self._keys.owned(caller, key_id, "cancel-key-deletion")
        if rec.key_state != KeyState.PENDING_DELETION:
            raise KmsError(Err.NOT_PENDING_DELETION)
        # The API reference: a cancelled key comes back disabled, so nobody uses it by surprise; an imported
        # key without its material comes back pending import (byok.py).
        state = KeyState.DISABLED
        if rec.origin == Origin.EXTERNAL:
            material = self._store.get_key_material(rec.key_id)
            if material is None or not material.present:
                state = KeyState.PENDING_IMPORT
        self._store.update_key(rec.key_id, key_state=state, scheduled_deletion_date=None)
        rec.key_state, rec.scheduled_deletion_date = state, None
        return rec

    def update_key_alias(self, caller: Caller, key_id: str, key_alias: str) -> KeyRecord:
        validate.key_id(key_id)
        validate.user_alias(key_alias)
        rec = self._keys.owned(caller, key_id, "update-key-alias")
        _not_default(rec)
        _not_pending_deletion(rec)
        try:
            self._store.update_key(rec.key_id, key_alias=key_alias)
        except DuplicateAlias as exc:
            raise KmsError(Err.DUPLICATE_ALIAS) from exc
        rec.key_alias = key_alias
        return rec

    def update_key_description(self, caller: Caller, key_id: str, key_description: str) -> KeyRecord:
        validate.key_id(key_id)
        validate.description(key_description)
        rec = self._keys.owned(caller, key_id, "update-key-description")
        _not_default(rec)
        _not_pending_deletion(rec)
        self._store.update_key(rec.key_id, key_description=key_description)
        rec.key_description = key_description
        return rec

    def _set_state(self, rec: KeyRecord, state: KeyState) -> KeyRecord:
        self._store.update_key(rec.key_id, key_state=state)
        rec.key_state = state
        return rec


def _not_default(rec: KeyRecord) -> None:
    if rec.default_key_flag:
        raise KmsError(Err.DEFAULT_KEY_IMMUTABLE)


def _not_pending_deletion(rec: KeyRecord) -> None:
    if rec.key_state == KeyState.PENDING_DELETION:
        raise KmsError(Err.KEY_PENDING_DELETION)
