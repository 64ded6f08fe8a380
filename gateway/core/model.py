"""Plain records the core hands to transports; no I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway.core.errors import KmsError

T = TypeVar("T")


class KeyState(enum.IntEnum):
    """A key's state; the numbers are the API's ``key_state`` values."""

    PENDING_ACTIVATION = 1
    ENABLED = 2
    DISABLED = 3
    PENDING_DELETION = 4
    PENDING_IMPORT = 5


class KeySpec(enum.StrEnum):
    """Every key spec the API knows; whether the token can make one is the HSM port's answer."""

    AES_256 = "AES_256"
    SM4 = "SM4"
    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    RSA_4096 = "RSA_4096"
    EC_P256 = "EC_P256"
    EC_P384 = "EC_P384"
    SM2 = "SM2"


class KeyUsage(enum.StrEnum):
    ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
    SIGN_VERIFY = "SIGN_VERIFY"


class Origin(enum.StrEnum):
    """Where a key's material came from: the token (``kms``) or the caller (``external``, BYOK)."""

    KMS = "kms"
    EXTERNAL = "external"


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
    key_spec: KeySpec
    key_usage: KeyUsage
    origin: Origin
    key_state: KeyState
    creation_date: int  # ms epoch
    scheduled_deletion_date: int | None = None  # ms epoch
    default_key_flag: bool = False
    realm: str = ""
    current_version: int = 1
    expiration_time: int | None = None  # ms epoch, imported material only
    provisioning: bool = False  # True between the store insert and the token object existing

    def __post_init__(self) -> None:
        # Store adapters hand in the column text: make the fields the enums they are typed as
        # (equal to that text, so nothing on the wire changes).
        self.key_spec = KeySpec(self.key_spec)
        self.key_usage = KeyUsage(self.key_usage)
        self.origin = Origin(self.origin)
        self.key_state = KeyState(self.key_state)

    @property
    def key_type(self) -> int:
        """The API's `key_type`: 1 symmetric, 2 asymmetric."""
        return 1 if self.key_spec in (KeySpec.AES_256, KeySpec.SM4) else 2


@dataclass
class KeyPage:
    keys: list[KeyRecord]
    total: int
    next_marker: str
    truncated: bool


@dataclass(slots=True)
class DataKey:
    key_id: str
    cipher_text: bytes
    plain_text: bytes | None = None  # None for create-datakey-without-plaintext


@dataclass(slots=True)
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


@dataclass(slots=True)
class ItemResult(Generic[T]):
    """One item of a batch: a value or the error that item alone met."""

    value: T | None = None
    error: KmsError | None = None
    extra: dict[str, int] = field(default_factory=dict)  # encrypt-datakey: {"datakey_length": bytes}

    def value_or_raise(self) -> T:
        """The value, or the item's error raised (a single call is a batch of one)."""
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


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
