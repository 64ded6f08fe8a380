"""Key lifecycle on the wire: create, describe, list, enable/disable, deletion, alias, description.

Field names and types: the provider's KMS API reference (docs/api.md) and the SDK models (``KeyDetails``,
``KeKInfo``, ``KeyStatusInfo`` ...). Every KeyDetails field is a string, times are millisecond
epoch strings, and ``key_info`` is an object (the reference's tables say "Array of objects"; their
examples and the SDK say object, and the SDK reads an array as an empty object).
"""

from __future__ import annotations

from pydantic import Field

from gateway.core.errors import Err
from gateway.core.model import KeyPage, KeyRecord
from gateway.rest.schemas_common import NumStr, OptNumStr, RequestModel, ResponseModel, bool_str, field

KEY_ID_DOC = "Key ID: a lowercase UUID of 36 characters, e.g. 0d0466b0-e727-4d9c-b35d-f84bb474a37f."
ALIAS_DOC = "Alias: ^[a-zA-Z0-9:/_-]{1,255}$, not ending in /default, unique in the project."


# -- requests -----------------------------------------------------------------------------------
class KeyIdRequest(RequestModel):
    """Body of enable-key, disable-key, cancel-key-deletion and describe-key (SDK OperateKeyRequestBody)."""

    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)


class CreateKeyRequest(RequestModel):
    key_alias: str = field(Err.INVALID_ALIAS, ALIAS_DOC)
    key_description: str | None = field(Err.INVALID_DESCRIPTION, "0 to 255 characters.", None)
    key_spec: str | None = field(
        Err.UNSUPPORTED_ALGORITHM,
        "AES_256 (default), RSA_2048, RSA_3072, RSA_4096, EC_P256, EC_P384; SM4 and SM2 where the HSM has them.",
        None,
    )
    key_usage: str | None = field(
        Err.KEY_USAGE_MISMATCH,
        "ENCRYPT_DECRYPT (default for AES_256/SM4; also RSA) or SIGN_VERIFY (default for RSA, EC, SM2).",
        None,
    )
    origin: str | None = field(Err.INVALID_PARAMETER, "kms (default) or external (AES_256 only: import).", None)
    realm: str | None = field(Err.INVALID_REALM, "Key realm: ^[a-zA-Z0-9_-]{0,255}$.", None)
    enterprise_project_id: str | None = field(Err.INVALID_PARAMETER, "Accepted and ignored.", None)


class ScheduleKeyDeletionRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    pending_days: NumStr = field(Err.INVALID_PENDING_DAYS, 'Days until deletion, "7" to "1096".')


class ListKeysRequest(RequestModel):
    limit: OptNumStr = field(Err.INVALID_LIMIT, "Page size, 1 to the listing maximum (1000).", None)
    marker: OptNumStr = field(Err.INVALID_MARKER, "Offset of the page: next_marker of the previous page.", None)
    key_state: OptNumStr = field(Err.INVALID_PARAMETER, 'Only keys in this state, "1" to "5".', None)
    key_spec: str | None = field(Err.INVALID_PARAMETER, "Accepted; every key of this gateway is AES_256.", None)
    enterprise_project_id: str | None = field(Err.INVALID_PARAMETER, "Accepted and ignored.", None)


class UpdateKeyAliasRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    key_alias: str = field(Err.INVALID_ALIAS, ALIAS_DOC)


class UpdateKeyDescriptionRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    key_description: str = field(Err.INVALID_DESCRIPTION, "0 to 255 characters.")


# -- responses ----------------------------------------------------------------------------------
class KeyDetails(ResponseModel):
    """A key as describe-key and list-keys show it; every field a string (SDK KeyDetails)."""

    key_id: str
    domain_id: str
    key_alias: str
    realm: str
    key_spec: str
    key_usage: str
    key_description: str
    creation_date: str = Field(description="Millisecond epoch.")
    scheduled_deletion_date: str = Field(description='Millisecond epoch, "" when no deletion is scheduled.')
    key_state: str = Field(
        description='"1" pending activation, "2" enabled, "3" disabled, "4" pending deletion, "5" pending import.'
    )
    default_key_flag: str = Field(description='"1" for a service default key, else "0".')
    key_type: str = Field(description='"1" symmetric, "2" asymmetric.')
    expiration_time: str = Field(description='Millisecond epoch of imported material, else "".')
    origin: str = Field(description="kms or external.")
    key_rotation_enabled: str = Field(description='"true" or "false".')
    sys_enterprise_project_id: str = Field(description='Always "0".')
    keystore_id: str = Field(description='Always "0" (the default keystore).')


class CreatedKeyInfo(ResponseModel):
    key_id: str
    domain_id: str


class CreateKeyResponse(ResponseModel):
    key_info: CreatedKeyInfo


class DescribeKeyResponse(ResponseModel):
    key_info: KeyDetails


class KeyStateInfo(ResponseModel):
    key_id: str
    key_state: str


class KeyStateInfoResponse(ResponseModel):
    """enable-key and disable-key: the new state inside key_info."""

    key_info: KeyStateInfo


class KeyStateResponse(ResponseModel):
    """schedule-key-deletion and cancel-key-deletion: the new state, not wrapped."""

    key_id: str
    key_state: str


class ListKeysResponse(ResponseModel):
    keys: list[str]
    key_details: list[KeyDetails]
    next_marker: str = Field(description='marker of the next page, "" on the last page.')
    truncated: str = Field(description='"true" when more pages follow, else "false".')
    total: int = Field(description="Keys matching the query, all pages together.")


class KeyAliasInfo(ResponseModel):
    key_id: str
    key_alias: str


class UpdateKeyAliasResponse(ResponseModel):
    key_info: KeyAliasInfo


class KeyDescriptionInfo(ResponseModel):
    key_id: str
    key_description: str


class UpdateKeyDescriptionResponse(ResponseModel):
    key_info: KeyDescriptionInfo


# -- records to wire ----------------------------------------------------------------------------
def key_details(rec: KeyRecord, rotation_enabled: bool = False) -> KeyDetails:
    """The one place a key record becomes its wire form (other groups reuse it).

    ``rotation_enabled`` is not on the record: routes ask ``Kms.rotation_enabled_keys``."""
    return KeyDetails(
        key_id=rec.key_id,
        domain_id=rec.domain_id,
        key_alias=rec.key_alias,
        realm=rec.realm,
        key_spec=rec.key_spec,
        key_usage=rec.key_usage,
        key_description=rec.key_description,
        creation_date=str(rec.creation_date),
        scheduled_deletion_date="" if rec.scheduled_deletion_date is None else str(rec.scheduled_deletion_date),
        key_state=str(int(rec.key_state)),
        default_key_flag="1" if rec.default_key_flag else "0",
        key_type=str(rec.key_type),
        expiration_time="" if rec.expiration_time is None else str(rec.expiration_time),
        origin=rec.origin,
        key_rotation_enabled=bool_str(rotation_enabled),
        sys_enterprise_project_id="0",
        keystore_id="0",
    )


def list_keys_response(page: KeyPage, rotating: set[str] | frozenset[str] = frozenset()) -> ListKeysResponse:
    return ListKeysResponse(
        keys=[k.key_id for k in page.keys],
        key_details=[key_details(k, k.key_id in rotating) for k in page.keys],
        next_marker=page.next_marker,
        truncated=bool_str(page.truncated),
        total=page.total,
    )
