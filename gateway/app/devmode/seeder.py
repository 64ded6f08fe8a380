"""Apply a seed (gateway/app/devmode/seed.py) to a test-mode runtime, idempotently.

Everything goes through the core. Fixed ids and known material go through
:class:`gateway.core.seeding.Seeding` (test mode only): the material is wrapped here, under the
public half of one RSA wrapping key per seeding, and enters the token by C_UnwrapKey as imported
material does (an external key is then enabled with its key check value recorded, as an import
leaves it). States, rotation, tags and grants go through the operations the API calls. Applying
the same seed to the same data dir again changes nothing, and a seed that
gained a material entry gives the key its next version: a restart with a persistent data dir keeps
every ciphertext decryptable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.app.devmode.errors import SeedError
from gateway.app.devmode.seed import Credential, Key, Project, Seed
from gateway.core.auth import FixedCredential
from gateway.core.errors import KmsError
from gateway.core.model import Caller
from gateway.core.seeding import Seeding

if TYPE_CHECKING:
    from gateway.app.runtime import Runtime

_HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


def wrapper(material: bytes) -> Callable[[bytes, str], bytes]:
    """RSAES-OAEP of ``material`` under a wrapping public key (SubjectPublicKeyInfo DER)."""

    def wrap(spki: bytes, hash_name: str) -> bytes:
        public = serialization.load_der_public_key(spki)
        assert isinstance(public, rsa.RSAPublicKey)
        algorithm = _HASHES[hash_name]()
        return public.encrypt(material, padding.OAEP(mgf=padding.MGF1(algorithm), algorithm=algorithm, label=None))

    return wrap


async def apply_seed(rt: Runtime, seed: Seed, file: str) -> dict[str, int]:
    """Create what the seed names and is missing; counts of what was made. SeedError names the entry."""
    seeding = Seeding(rt.kms)
    try:
        return await _apply(rt, seeding, seed, file)
    finally:
        await seeding.close()


async def _apply(rt: Runtime, seeding: Seeding, seed: Seed, file: str) -> dict[str, int]:
    made = {"projects": 0, "credentials": 0, "keys": 0, "versions": 0, "grants": 0}
    for p_index, project in enumerate(seed.projects):
        where = f"projects[{p_index}] (id {project.id!r})"
        caller = _project_caller(rt, project, file, where)
        made["projects"] += 1
        for c_index, cred in enumerate(project.credentials):
            entry = f"{where}.credentials[{c_index}] (access_key {cred.access_key!r})"
            made["credentials"] += await _credential(rt, project, cred, file, entry)
        for k_index, key in enumerate(project.keys):
            entry = f"{where}.keys[{k_index}] (alias {key.alias!r})"
            try:
                versions, grants = await _key(rt, seeding, caller, key)
            except KmsError as exc:
                raise SeedError(file, [(entry, f"{exc.err.name}: {exc.message}")]) from None
            except (ValueError, PermissionError) as exc:
                raise SeedError(file, [(entry, str(exc))]) from None
            made["keys"] += 1
            made["versions"] += versions
            made["grants"] += grants
    return made


def _project_caller(rt: Runtime, project: Project, file: str, where: str) -> Caller:
    """The caller that owns the project's keys (a seed acts as the project itself)."""
    known = rt.store.project_domain(project.id)
    if known and project.domain_id and known != project.domain_id:
        raise SeedError(file, [(where, f"the data dir has this project in domain {known}")])
    domain = known or project.domain_id or uuid.uuid4().hex
    rt.store.put_project(project.id, domain)
    return Caller(project.id, domain, "kmsgw-seed", "kmsgw-seed", None)


async def _credential(rt: Runtime, project: Project, cred: Credential, file: str, entry: str) -> int:
    existing = rt.store.get_credential(cred.access_key)
    if existing is not None:
        secret, _ = await rt.auth.secret_for(cred.access_key)
        if existing.project_id != project.id or secret != cred.secret_key:
            raise SeedError(file, [(entry, "this access key exists with another project or secret in the data dir")])
        return 0
    try:
        await rt.auth.create_credentials(
            project.id,
            project.domain_id,
            frozenset(cred.allow) if cred.allow is not None else None,
            fixed=FixedCredential(cred.access_key, cred.secret_key, cred.user_id),
        )
    except (ValueError, PermissionError) as exc:
        raise SeedError(file, [(entry, str(exc))]) from None
    return 1


async def _key(rt: Runtime, seeding: Seeding, caller: Caller, key: Key) -> tuple[int, int]:
    """Create or complete one key; (versions made, grants made)."""
    materials = key.materials()
    existing = rt.store.get_key_by_id(key.id)
    if existing is not None and (existing.key_alias, existing.key_spec, existing.origin) != (
        key.alias,
        key.spec,
        key.origin,
    ):
        raise ValueError("a key with this id exists in the data dir with another alias, spec or origin")
    first = materials[0] if materials else None
    rec = await seeding.create_key(
        caller,
        key_id=key.id,
        key_alias=key.alias,
        key_spec=key.spec,
        key_usage=key.usage,
        origin=key.origin,
        key_description=key.description,
        material=wrapper(first) if first is not None else None,
    )
    versions = 1 if existing is None else 0
    if key.origin == "kms" and materials:
        for material in materials[rec.current_version :]:  # entries beyond the key's versions: rotations
            rec.current_version = await seeding.add_version(key.id, wrapper(material))
            versions += 1
    if existing is None:
        await _settle(rt, caller, key)
    return versions, await _grants(rt, caller, key)


async def _settle(rt: Runtime, caller: Caller, key: Key) -> None:
    """Tags, rotation and the state of a key the seed just made (a seed never changes an existing key's state)."""
    kms = rt.kms
    for tag_key, value in key.tags.items():
        kms.create_key_tag(caller, key.id, {"key": tag_key, "value": value})
    if key.rotation or key.rotation_interval:
        kms.enable_key_rotation(caller, key.id)
        if key.rotation_interval:
            kms.update_key_rotation_interval(caller, key.id, key.rotation_interval)
    if key.state == "disabled":
        kms.disable_key(caller, key.id)
    elif key.state == "pending_deletion":
        kms.schedule_key_deletion(caller, key.id, key.pending_days)


async def _grants(rt: Runtime, caller: Caller, key: Key) -> int:
    made = 0
    held = rt.kms.list_grants(caller, key.id).grants if key.grants else []
    have = {(g.grantee_principal, tuple(sorted(g.operations))) for g in held}
    for grant in key.grants:
        if (grant.grantee, tuple(sorted(grant.operations))) in have:
            continue
        rt.kms.create_grant(
            caller,
            key.id,
            grantee_principal=grant.grantee,
            grantee_principal_type=grant.grantee_type,
            operations=grant.operations,
            name=grant.name,
            retiring_principal=grant.retiring,
        )
        made += 1
    return made
