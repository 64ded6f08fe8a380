"""Test mode only: keys with fixed ids and known material, for seed files (`kmsgw dev --seed`).

Why it exists: an application's test suite wants ciphertexts made in one run to decrypt in the
next, which needs the same key id and the same material every time. Why it is fenced off: a
deployment must never hold a key whose id or material someone chose, so :class:`Seeding` refuses
to exist unless ``Settings.test_mode`` is set, which only the dev runtime does (no configuration
file or command-line option of `kmsgw serve` can).

Known material still enters the token as imported material does: the caller wraps it under the
public half of an RSA wrapping key pair made on the token for the purpose, and C_UnwrapKey turns
it into a sensitive, non-extractable object (``HsmPort.unwrap_aes_key``). The core never sees the
material itself: only the ``wrap`` callback of the caller does. Versions follow the write order of
create-key and of a rotation, so reconciliation settles a seed interrupted half-way.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from gateway.core import keyspecs, validate
from gateway.core.clock import ms
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller, KeyRecord, KeySpec, KeyState, Origin
from gateway.core.ports.hsm import MaterialRejected, key_label
from gateway.core.ports.store import DuplicateAlias
from gateway.core.service import Kms

# Wraps the known material for one import: (SubjectPublicKeyInfo DER of the wrapping key, OAEP hash)
# -> the RSAES-OAEP block to unwrap. Runs in the caller's layer, which holds the material.
Wrap = Callable[[bytes, str], bytes | Awaitable[bytes]]


class Seeding:
    """Create keys with fixed ids, optionally from known material (one wrap per version)."""

    def __init__(self, kms: Kms) -> None:
        if not kms.settings.test_mode:
            raise PermissionError("fixed key ids and known key material exist in test mode only (kmsgw dev)")
        self._kms = kms
        self._store = kms.store
        self._hsm = kms.hsm
        self._wrapping: tuple[str, str, bytes] | None = None  # (label, OAEP hash, SPKI DER) of this seeding

    async def close(self) -> None:
        """Destroy the wrapping key pair (one per seeding: an RSA key generation costs a good part of a second)."""
        if self._wrapping is not None:
            label, self._wrapping = self._wrapping[0], None
            await self._hsm.destroy([label])

    async def create_key(
        self,
        caller: Caller,
        *,
        key_id: str,
        key_alias: str,
        key_spec: str = "",
        key_usage: str = "",
        origin: str = "",
        key_description: str = "",
        material: Wrap | None = None,
    ) -> KeyRecord:
        """A key with this id; its first version from ``material`` when given (AES_256).

        An external key without material is left pending import; with it, it is enabled as an
        import would leave it (its key check value recorded, so a re-import must match). Returns the
        existing row unchanged when the id is taken by the same project.
        """
        validate.key_id(key_id)
        validate.user_alias(key_alias)
        validate.description(key_description)
        key_origin = keyspecs.parse_origin(origin or Origin.KMS)
        spec, usage = keyspecs.parse_spec_and_usage(key_spec or "AES_256", key_usage)
        if material is not None and spec != KeySpec.AES_256:
            raise KmsError(Err.INVALID_PARAMETER, "Known material seeds AES_256 keys only.")
        await self._kms.specs.check_creatable(spec, key_origin)
        existing = self._store.get_key_by_id(key_id)
        if existing is not None:
            if existing.project_id != caller.project_id:
                raise KmsError(Err.INVALID_PARAMETER, f"Key id {key_id} belongs to another project.")
            return existing
        rec = KeyRecord(
            key_id=key_id,
            project_id=caller.project_id,
            domain_id=caller.domain_id,
            key_alias=key_alias,
            key_description=key_description,
            key_spec=spec,
            key_usage=usage,
            origin=key_origin,
            key_state=KeyState.PENDING_IMPORT if key_origin == Origin.EXTERNAL else KeyState.ENABLED,
            creation_date=self._kms.now_ms(),
            provisioning=True,
        )
        try:
            self._store.insert_key(rec)
        except DuplicateAlias as exc:
            raise KmsError(Err.DUPLICATE_ALIAS) from exc
        label = key_label(key_id, 1)
        try:
            if material is not None:
                check_value = await self._unwrap_known(label, key_id, material)
                if key_origin == Origin.EXTERNAL:
                    self._store.material_imported(key_id, check_value, self._kms.now_ms(), None)
                    rec.key_state = KeyState.ENABLED
            elif key_origin == Origin.KMS:
                await self._hsm.create_key(label, key_id, spec, usage)
        except BaseException:
            self._store.delete_key(key_id)
            raise
        if not self._store.finish_provisioning(key_id):
            await self._hsm.destroy([label])
            raise KmsError(Err.HSM_IO, "Key creation timed out; retry.")
        rec.provisioning = False
        return rec

    async def add_version(self, key_id: str, material: Wrap) -> int:
        """Version n+1 of a seeded key from known material, made current (a rotation by seed)."""
        rec = self._store.get_key_by_id(key_id)
        if rec is None or rec.provisioning:
            raise KmsError(Err.KEY_NOT_FOUND)
        if rec.origin != Origin.KMS or not keyspecs.rotatable(rec):
            raise KmsError(Err.INVALID_PARAMETER, "Known material seeds AES_256 keys of origin kms only.")
        version = rec.current_version + 1
        if not self._store.begin_key_version(key_id, version, self._kms.now_ms()):
            raise KmsError(Err.ROTATION_IN_PROGRESS)
        label = key_label(key_id, version)
        try:
            await self._unwrap_known(label, key_id, material)
        except BaseException:
            self._store.drop_key_version(key_id, version)
            raise
        if not self._store.finish_key_version(key_id, version, ms(self._kms.clock.now())):
            await self._hsm.destroy([label])
            raise KmsError(Err.ROTATION_IN_PROGRESS)
        return version

    async def _unwrap_known(self, label: str, key_id: str, material: Wrap) -> bytes:
        """C_UnwrapKey of the wrapped material into ``label`` under this seeding's wrapping key."""
        if self._wrapping is None:
            wrap_label = f"kmsgw:seed-wrap:{uuid.uuid4().hex}"
            hash_name = "sha256" if await self._hsm.oaep_supported("sha256") else "sha1"
            await self._hsm.create_wrapping_key(wrap_label, str(uuid.uuid4()))
            self._wrapping = (wrap_label, hash_name, await self._hsm.public_key_der(wrap_label))
        wrap_label, hash_name, spki = self._wrapping
        wrapped = material(spki, hash_name)
        if not isinstance(wrapped, bytes):
            wrapped = await wrapped
        try:
            return await self._hsm.unwrap_aes_key(
                wrap_label, label, key_id, wrapped, hash_name, software_oaep=False, expected_kcv=None
            )
        except MaterialRejected as exc:
            raise KmsError(Err.IMPORT_MATERIAL_LENGTH, f"Known material refused by the token: {exc.reason}.") from None
