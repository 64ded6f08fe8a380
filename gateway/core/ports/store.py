"""The metadata store contract: what the core needs from a store, split by aggregate, nothing about SQL.

Each Protocol below covers one aggregate (its tables and the rules written with them);
``MetadataStore`` is all of them plus the store-wide ``generation``, ``shared`` and ``close()``.
A part of the core that needs one aggregate only may ask for that Protocol (``LeaseStore`` for
gateway/core/leases.py); the core's services take a ``MetadataStore``. The adapters
(gateway/store) implement every Protocol on SQLite and PostgreSQL; the row and value types the
methods exchange live here, beside them. Timestamps are ms since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.core.model import Grant, KeyRecord, KeyState

# -- rows and values -----------------------------------------------------------------------


class DuplicateAlias(Exception):
    """The (project, alias) pair is taken."""


@dataclass(frozen=True)
class CredentialRow:
    access_key: str
    sealed_secret: bytes
    project_id: str
    domain_id: str
    user_id: str
    allowed_actions: frozenset[str] | None = None  # None = every action (see gateway/core/permissions.py)


@dataclass(frozen=True)
class TokenRow:
    project_id: str
    domain_id: str
    user_id: str
    expires_at: int  # ms epoch
    allowed_actions: frozenset[str] | None = None  # None = every action


@dataclass(frozen=True)
class RotationRow:
    enabled: bool
    interval_days: int
    base_at: int  # ms epoch: the enable time or the last rotation; next due at base_at + interval
    last_rotation_at: int | None
    rotations: int


@dataclass(frozen=True)
class ImportParamsRow:
    """One get-parameters-for-import answer: its wrapping key pair on the token and its expiry."""

    token_id: str  # 32 hex characters
    key_id: str
    wrapping_label: str
    wrapping_algorithm: str
    public_key: bytes | None  # SubjectPublicKeyInfo DER, None until the pair exists
    created_at: int  # ms epoch
    expires_at: int  # ms epoch


@dataclass(frozen=True)
class MaterialRow:
    """Imported key material of an external key: its check value, and whether it is on the token now."""

    check_value: bytes
    first_imported_at: int
    present: bool


@dataclass(frozen=True)
class CertificateBindingRow:
    """A client certificate (by the SHA-256 of its DER) bound to a credential."""

    fingerprint: str  # lowercase hex
    access_key: str
    subject: str  # RFC 4514 form, informational
    not_after: int  # ms epoch, informational (the TLS layer enforces validity)
    created_at: int  # ms epoch


@dataclass(frozen=True)
class XksKeystoreRow:
    """An AWS KMS external key store this gateway serves: its URI path prefix and the project whose
    keys it exports. ``uri_prefix`` is "" or "/segment[/segment...]" (gateway/core/xks/names.py)."""

    uri_prefix: str
    project_id: str
    created_at: int  # ms epoch


@dataclass(frozen=True)
class XksCredentialRow:
    """A SigV4 credential of a keystore; the secret is sealed by the token, never stored in clear."""

    access_key_id: str
    uri_prefix: str
    sealed_secret: bytes
    created_at: int  # ms epoch


@dataclass(frozen=True)
class XksKeyRow:
    """A gateway key exported to a keystore under an external key id, with the usage it allows."""

    uri_prefix: str
    xks_key_id: str
    key_id: str
    key_usage: tuple[str, ...]  # ("ENCRYPT", "DECRYPT"), one of them, or () for none
    created_at: int  # ms epoch


@dataclass(frozen=True)
class AwsAccountRow:
    """An AWS account of the AWS KMS API and the gateway project that holds its keys."""

    account_id: str  # 12 digits
    project_id: str
    created_at: int  # ms epoch


@dataclass(frozen=True)
class AwsCredentialRow:
    """An AWS access key of an account; the secret is sealed by the token, never stored in clear."""

    access_key_id: str
    account_id: str
    user_name: str  # the IAM-style user the key policies name: arn:aws:iam::<account>:user/<name>
    sealed_secret: bytes
    allowed_actions: frozenset[str] | None  # kms:Encrypt...; None: every action (an administrator)
    created_at: int  # ms epoch


@dataclass(frozen=True)
class AwsKeyRow:
    """A gateway key as the AWS API sees it: its account and region, and its key policy (JSON text)."""

    key_id: str
    account_id: str
    region: str
    policy: str
    created_at: int  # ms epoch


@dataclass(frozen=True)
class AwsAliasRow:
    account_id: str
    region: str
    alias_name: str  # alias/...
    key_id: str
    created_at: int  # ms epoch
    updated_at: int  # ms epoch


@dataclass(frozen=True)
class AwsGrantRow:
    """A grant of the AWS API: a principal ARN may run ``operations`` on a key, within ``constraints``."""

    grant_id: str
    key_id: str
    name: str
    grantee_principal: str
    retiring_principal: str  # "" for none
    issuing_account: str  # arn:aws:iam::<account>:root
    operations: tuple[str, ...]  # AWS operation names (Decrypt, Encrypt, ...)
    constraints: str  # JSON {"EncryptionContextSubset": {...}} or {"EncryptionContextEquals": {...}}; "" for none
    grant_token: str
    created_at: int  # ms epoch


@dataclass(frozen=True)
class AwsRotationRow:
    """One rotation of a key's material: the version it made, when, and whether it was asked for."""

    version: int
    rotated_at: int  # ms epoch
    rotation_type: str  # AUTOMATIC | ON_DEMAND


# -- one Protocol per aggregate ------------------------------------------------------------


class KeyStore(Protocol):
    """Key rows. Rows still being created (``provisioning``) are invisible to listings and counts."""

    def insert_key(self, rec: KeyRecord) -> None:
        """Insert the key and its first version; DuplicateAlias when the project has that alias."""

    def get_key(self, project_id: str, key_id: str) -> KeyRecord | None: ...
    def get_key_by_id(self, key_id: str) -> KeyRecord | None: ...
    def update_key(self, key_id: str, **fields: object) -> None:
        """Change columns of a key (not its id, project, domain or creation date); DuplicateAlias."""

    def delete_key(self, key_id: str) -> None: ...
    def list_keys(
        self, project_id: str, key_state: KeyState | None, offset: int, limit: int
    ) -> tuple[list[KeyRecord], int]: ...
    def count_keys(self, project_id: str, *, include_default: bool = False) -> int: ...
    def keys_due_for_deletion(self, now_ms: int) -> list[KeyRecord]: ...
    def all_key_ids(self) -> set[str]: ...


class KeyVersionStore(Protocol):
    """Key versions and rotation settings. A rotation is settled crash-safely: ``begin_key_version``
    claims a pending row, ``finish_key_version`` moves ``current_version`` in the same commit."""

    def key_versions(self, key_id: str) -> list[int]: ...
    def add_key_version(self, key_id: str, version: int, created_at: int) -> None: ...
    def begin_key_version(self, key_id: str, version: int, created_at: int) -> bool:
        """Claim ``version`` as pending; False when that version exists (or is being made) already."""

    def finish_key_version(self, key_id: str, version: int, now_ms: int) -> bool:
        """Settle a pending version and make it current; False (nothing changed) when the pending row
        is gone or the key is no longer at ``version - 1``: the caller must not use what it made."""

    def drop_key_version(self, key_id: str, version: int) -> None: ...
    def pending_key_versions(self) -> list[tuple[str, int]]: ...
    def get_rotation(self, key_id: str) -> RotationRow | None: ...
    def put_rotation(self, key_id: str, *, enabled: bool, interval_days: int, base_at: int) -> None: ...
    def keys_due_for_rotation(self, now_ms: int, day_ms: int) -> list[KeyRecord]: ...
    def rotation_enabled_among(self, key_ids: list[str]) -> set[str]: ...


class PrincipalStore(Protocol):
    """Who calls: projects (their domain), AK/SK credentials (secret sealed by the token) and bearer
    tokens (by SHA-256), each with its allowed actions (None = every action)."""

    def project_domain(self, project_id: str) -> str | None: ...
    def put_project(self, project_id: str, domain_id: str) -> None: ...
    def put_credential(self, row: CredentialRow, created_at: int) -> None: ...
    def get_credential(self, access_key: str) -> CredentialRow | None: ...
    def set_credential_actions(self, access_key: str, actions: frozenset[str] | None) -> bool:
        """Replace a credential's allowed actions; False if the access key is unknown."""

    def put_token(self, token_hash: str, row: TokenRow) -> None: ...
    def get_token(self, token_hash: str) -> TokenRow | None: ...


class CertificateStore(Protocol):
    """mTLS: client certificates bound to credentials."""

    def bind_certificate(self, row: CertificateBindingRow) -> CertificateBindingRow:
        """Bind a fingerprint to an access key; an existing binding is kept and returned as it is."""

    def get_certificate_binding(self, fingerprint: str) -> CertificateBindingRow | None: ...
    def unbind_certificate(self, fingerprint: str) -> bool: ...
    def list_certificate_bindings(self, access_key: str | None = None) -> list[CertificateBindingRow]: ...


class GrantStore(Protocol):
    """Grants: what a principal of another project may call on a key. Never cached by the core."""

    def insert_grant(self, grant: Grant, max_per_key: int) -> bool:
        """Insert unless the key already holds ``max_per_key`` grants (checked in the same commit)."""

    def get_grant(self, grant_id: str) -> Grant | None: ...
    def delete_grant(self, grant_id: str) -> bool: ...
    def list_grants(self, key_id: str, offset: int, limit: int) -> tuple[list[Grant], int]: ...
    def list_retirable_grants(self, principals: list[str], offset: int, limit: int) -> tuple[list[Grant], int]: ...
    def granted_operations(self, key_id: str, user_id: str, domain_id: str) -> set[str] | None:
        """The union of operations granted on a key to this user or its domain; None without a grant."""

    def max_grants_per_key(self, project_id: str) -> int: ...


class TagStore(Protocol):
    """Key tags and tag queries."""

    def key_tags(self, key_id: str) -> dict[str, str]: ...
    def change_tags(
        self, key_id: str, project_id: str, upsert: dict[str, str], delete: dict[str, str | None], max_tags: int
    ) -> bool:
        """Deletions (a None value deletes whatever value) then upserts, atomically; False (nothing
        changed) when the key would end up with more than ``max_tags`` tags."""

    def project_tags(self, project_id: str) -> dict[str, list[str]]: ...
    def keys_by_tags(
        self,
        project_id: str,
        tags: list[tuple[str, list[str]]],
        name_contains: str | None,
        offset: int,
        limit: int | None,
    ) -> tuple[list[KeyRecord], int]:
        """The project's keys carrying every tag key given (any of its values); ``limit`` None: count only."""

    def tags_of_keys(self, key_ids: list[str]) -> dict[str, dict[str, str]]: ...


class ImportStore(Protocol):
    """Bring-your-own-key: import parameters (wrapping key pairs) and the imported material's record."""

    def put_import_parameters(self, row: ImportParamsRow) -> None: ...
    def set_import_public_key(self, token_id: str, public_key: bytes) -> None: ...
    def get_import_parameters(self, token_id: str) -> ImportParamsRow | None: ...
    def live_import_parameters(
        self, key_id: str, wrapping_algorithm: str, valid_after: int
    ) -> ImportParamsRow | None: ...
    def expired_import_parameters(self, now_ms: int) -> list[ImportParamsRow]: ...
    def delete_import_parameters(self, token_id: str) -> None: ...
    def get_key_material(self, key_id: str) -> MaterialRow | None: ...
    def material_imported(self, key_id: str, check_value: bytes, now_ms: int, expiration_time: int | None) -> None:
        """Material is on the token: record (or keep) its check value and enable the key, in one commit."""

    def material_removed(self, key_id: str) -> None:
        """Back to pending import (the token object is destroyed after this commit)."""

    def keys_with_expired_material(self, now_ms: int) -> list[KeyRecord]: ...


class RecoveryStore(Protocol):
    """What reconciliation (gateway/core/housekeeping.py) settles: rows left in flight by a crash and
    token objects no row knows (orphans), with their first sighting."""

    def provisioning_keys(self) -> list[KeyRecord]: ...
    def finish_provisioning(self, key_id: str) -> bool:
        """Clear a key's provisioning mark; False when the row is gone (a reconcile dropped it), so its
        creator must not acknowledge the key."""

    def drop_provisioning(self, key_id: str) -> bool:
        """Delete a key row only while it is still provisioning; False when its creator finished it."""

    def stale_pending_key_versions(self, before_ms: int) -> list[tuple[str, int]]: ...
    def note_orphans(self, labels: list[str], now_ms: int) -> dict[str, int]:
        """Record the first sighting of each label, forget labels no longer given; label -> first seen."""

    def forget_orphans(self, labels: list[str]) -> None: ...


class LeaseStore(Protocol):
    """Leases: once-only work across processes and nodes (gateway/core/leases.py)."""

    def try_lease(self, name: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        """Acquire or renew ``name`` for ``holder`` until ``now_ms + ttl_ms``; False while another holds it."""

    def release_lease(self, name: str, holder: str) -> None: ...


class XksStore(Protocol):
    """AWS KMS External Key Store: keystores, their SigV4 credentials and key mappings. Deleting a
    keystore deletes its credentials and mappings; deleting a key deletes its mappings."""

    def put_xks_keystore(self, row: XksKeystoreRow) -> bool:
        """Insert a keystore; False when its prefix is taken."""

    def get_xks_keystore(self, uri_prefix: str) -> XksKeystoreRow | None: ...
    def list_xks_keystores(self) -> list[XksKeystoreRow]: ...
    def delete_xks_keystore(self, uri_prefix: str) -> bool: ...
    def put_xks_credential(self, row: XksCredentialRow) -> bool:
        """Insert a credential; False when its keystore is gone or its access key id is taken."""

    def get_xks_credential(self, access_key_id: str) -> XksCredentialRow | None: ...
    def list_xks_credentials(self, uri_prefix: str) -> list[XksCredentialRow]: ...
    def delete_xks_credential(self, access_key_id: str) -> bool: ...
    def put_xks_key(self, row: XksKeyRow) -> bool:
        """Insert or replace the mapping of ``(uri_prefix, xks_key_id)``; False when the keystore or the key is gone."""

    def get_xks_key(self, uri_prefix: str, xks_key_id: str) -> XksKeyRow | None: ...
    def list_xks_keys(self, uri_prefix: str) -> list[XksKeyRow]: ...
    def delete_xks_key(self, uri_prefix: str, xks_key_id: str) -> bool: ...


class AwsStore(Protocol):
    """The AWS KMS API's view of keys: accounts (-> projects), sealed AWS access keys, each key's account,
    region and key policy, aliases per account and region, grants by principal ARN, and which rotations
    were on demand. Deleting a key deletes its AWS row, aliases, grants and rotation notes."""

    def put_aws_account(self, row: AwsAccountRow) -> AwsAccountRow:
        """Insert an account's project unless the account exists; the stored row either way."""

    def get_aws_account(self, account_id: str) -> AwsAccountRow | None: ...
    def put_aws_credential(self, row: AwsCredentialRow) -> bool:
        """Insert an access key; False when its id is taken."""

    def get_aws_credential(self, access_key_id: str) -> AwsCredentialRow | None: ...
    def put_aws_key(self, row: AwsKeyRow) -> None: ...
    def get_aws_key(self, key_id: str) -> AwsKeyRow | None: ...
    def list_aws_keys(self, account_id: str, region: str, offset: int, limit: int) -> tuple[list[AwsKeyRow], int]:
        """An account's keys in a region (visible ones only: not provisioning), oldest first, and their count."""

    def aws_key_ids(self) -> list[str]:
        """Every key the AWS API made, whatever its account and region (a test gateway's reset)."""

    def set_aws_key_policy(self, key_id: str, policy: str) -> bool: ...
    def put_aws_alias(self, row: AwsAliasRow) -> bool:
        """Insert an alias; False when the account already has it in that region."""

    def retarget_aws_alias(self, account_id: str, region: str, alias_name: str, key_id: str, now_ms: int) -> bool: ...
    def delete_aws_alias(self, account_id: str, region: str, alias_name: str) -> bool: ...
    def get_aws_alias(self, account_id: str, region: str, alias_name: str) -> AwsAliasRow | None: ...
    def list_aws_aliases(
        self, account_id: str, region: str, key_id: str | None, offset: int, limit: int
    ) -> tuple[list[AwsAliasRow], int]: ...
    def put_aws_grant(self, row: AwsGrantRow, max_per_key: int) -> bool:
        """Insert unless the key already holds ``max_per_key`` grants (checked in the same commit)."""

    def get_aws_grant(self, grant_id: str) -> AwsGrantRow | None: ...
    def get_aws_grant_by_token(self, grant_token: str) -> AwsGrantRow | None: ...
    def delete_aws_grant(self, grant_id: str) -> bool: ...
    def list_aws_grants(self, key_id: str, offset: int, limit: int) -> tuple[list[AwsGrantRow], int]: ...
    def list_aws_retirable_grants(self, principal: str, offset: int, limit: int) -> tuple[list[AwsGrantRow], int]: ...
    def aws_grants_for(self, key_id: str, grantee_principal: str) -> list[AwsGrantRow]: ...
    def note_aws_rotation(self, key_id: str, version: int, rotation_type: str) -> None: ...
    def aws_key_rotations(self, key_id: str, offset: int, limit: int) -> tuple[list[AwsRotationRow], int]:
        """The key's rotations (versions after the first, settled), oldest first, and their count."""


class MetadataStore(
    KeyStore,
    KeyVersionStore,
    PrincipalStore,
    CertificateStore,
    GrantStore,
    TagStore,
    ImportStore,
    RecoveryStore,
    LeaseStore,
    XksStore,
    AwsStore,
    Protocol,
):
    """The whole store, as the core's services hold it."""

    # Whether other processes may be writing while this one starts: True on PostgreSQL (other
    # nodes), and on SQLite once another `kmsgw serve` is found on the same data dir (the composition
    # root sets it). Start-up reconciliation settles every in-flight row only on a store not shared.
    shared: bool

    @property
    def generation(self) -> int:
        """Changes on every commit: this store's at once, other processes'/nodes' within milliseconds
        (SQLite data_version poll, PostgreSQL LISTEN/NOTIFY). Readers cache by it. Cheap to read."""
        ...

    def close(self) -> None: ...
