"""Plain records the core hands to transports; no I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class KeyState(enum.IntEnum):
    PENDING_ACTIVATION = 1
    ENABLED = 2
    DISABLED = 3
    PENDING_DELETION = 4
    PENDING_IMPORT = 5


@dataclass(frozen=True)
class Caller:
    """Who is calling, fixed by the credential or token, never by the request body."""

    project_id: str
    domain_id: str
    user_id: str
    # Who the audit log and rate limits name: the access key (AK/SK or certificate-bound
    # credential) or the user id (bearer token).
    principal: str = ""
    # The actions this caller may perform (see gateway/core/permissions.py); None = every action.
    actions: frozenset[str] | None = None


@dataclass
class KeyRecord:
    key_id: str
    project_id: str
    domain_id: str
    key_alias: str
    key_description: str
    key_spec: str  # AES_256, RSA_2048, ...
    key_usage: str  # ENCRYPT_DECRYPT | SIGN_VERIFY
    origin: str  # kms | external
    key_state: KeyState
    creation_date: int  # ms epoch
    scheduled_deletion_date: int | None = None  # ms epoch
    default_key_flag: bool = False
    realm: str = ""
    current_version: int = 1
    expiration_time: int | None = None  # ms epoch, imported material only
    provisioning: bool = False  # True between the store insert and the token object existing

    @property
    def key_type(self) -> int:
        """The API's `key_type`: 1 symmetric, 2 asymmetric."""
        return 1 if self.key_spec in ("AES_256", "SM4") else 2


@dataclass
class KeyPage:
    keys: list[KeyRecord]
    total: int
    next_marker: str
    truncated: bool


@dataclass
class DataKey:
    key_id: str
    cipher_text: bytes
    plain_text: bytes | None = None  # None for create-datakey-without-plaintext


@dataclass
class DecryptedDataKey:
    data_key: bytes
    datakey_length: int  # bytes
    datakey_digest: bytes  # SHA-256 of data_key


@dataclass
class EncryptedData:
    key_id: str
    cipher_text: bytes


@dataclass
class DecryptedData:
    key_id: str
    plain_text: bytes


@dataclass
class Quota:
    type: str  # CMK | grant_per_CMK
    used: int
    quota: int


@dataclass
class ItemResult:
    """One item of a batch: a value or the error that item alone met."""

    value: object | None = None
    error: object | None = None  # KmsError
    extra: dict = field(default_factory=dict)


@dataclass
class RotationStatus:
    """get-key-rotation-status; times are ms epoch, ``last_rotation_time`` None before the first."""

    key_id: str
    key_rotation_enabled: bool
    rotation_interval: int  # days
    last_rotation_time: int | None
    number_of_rotations: int
    current_version: int


@dataclass
class Grant:
    grant_id: str
    key_id: str
    project_id: str  # the key owner's project
    name: str
    grantee_principal: str
    grantee_principal_type: str  # user | domain
    retiring_principal: str
    operations: list[str]
    issuing_principal: str
    creation_date: int  # ms epoch


@dataclass
class GrantPage:
    grants: list[Grant]
    total: int
    next_marker: str
    truncated: bool


@dataclass
class TaggedKey:
    """One row of resource_instances/action: a key and its tags (tag key -> value)."""

    key: KeyRecord
    tags: dict[str, str]


@dataclass
class ResourcePage:
    resources: list[TaggedKey]
    total_count: int
