"""Grants on the wire (SDK models ``CreateGrantRequestBody``, ``ListGrantsRequestBody``,
``ListRetirableGrantsRequestBody``, ``RevokeGrantRequestBody``, ``Grants``; codes KMS.24xx/25xx, docs/api.md).

Every field of a grant in a response is a string (``creation_date`` a millisecond epoch string);
``truncated`` is the string ``"true"``/``"false"``, ``total`` a number.
"""

from __future__ import annotations

from pydantic import Field

from gateway.core.errors import Err
from gateway.core.model import Grant, GrantPage
from gateway.rest.schemas_common import OptNumStr, RequestModel, ResponseModel, bool_str, field
from gateway.rest.schemas_keys import KEY_ID_DOC

PRINCIPAL_DOC = "^[a-zA-Z0-9]{1,64}$"
OPERATIONS_DOC = (
    "Operations the grant allows: create-datakey, create-datakey-without-plaintext, encrypt-datakey, "
    "decrypt-datakey, describe-key, create-grant, retire-grant, encrypt-data, decrypt-data; not create-grant alone."
)
GRANT_ID_DOC = "Grant ID: 64 hexadecimal characters, as create-grant returned it."


class CreateGrantRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    grantee_principal: str = field(
        Err.GRANT_INVALID_PRINCIPAL, f"User ID (or domain ID, with grantee_principal_type domain): {PRINCIPAL_DOC}."
    )
    operations: list[str] = field(Err.INVALID_PARAMETER, OPERATIONS_DOC)
    name: str | None = field(Err.INVALID_PARAMETER, "Grant name: ^[a-zA-Z0-9:/_-]{1,255}$.", None)
    retiring_principal: str | None = field(
        Err.GRANT_INVALID_PRINCIPAL, f"User (or domain) ID that may retire the grant: {PRINCIPAL_DOC}.", None
    )
    grantee_principal_type: str | None = field(Err.GRANT_INVALID_PRINCIPAL, "user (default) or domain.", None)


class CreateGrantResponse(ResponseModel):
    grant_id: str = Field(description=GRANT_ID_DOC)


class ListGrantsRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    limit: OptNumStr = field(Err.INVALID_LIMIT, "Page size, 1 to 1000 (default 1000).", None)
    marker: OptNumStr = field(Err.INVALID_MARKER, "Offset of the page: next_marker of the previous page.", None)


class ListRetirableGrantsRequest(RequestModel):
    limit: OptNumStr = field(Err.INVALID_LIMIT, "Page size, 1 to 1000 (default 1000).", None)
    marker: OptNumStr = field(Err.INVALID_MARKER, "Offset of the page: next_marker of the previous page.", None)


class GrantIdRequest(RequestModel):
    """Body of revoke-grant and retire-grant (SDK RevokeGrantRequestBody)."""

    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    grant_id: str = field(Err.GRANT_NOT_FOUND, GRANT_ID_DOC)


class GrantInfo(ResponseModel):
    key_id: str
    grant_id: str
    grantee_principal: str
    grantee_principal_type: str = Field(description="user or domain.")
    operations: list[str]
    issuing_principal: str = Field(description="User ID of the grant's creator.")
    creation_date: str = Field(description="Millisecond epoch.")
    name: str
    retiring_principal: str


class ListGrantsResponse(ResponseModel):
    grants: list[GrantInfo]
    next_marker: str = Field(description='marker of the next page, "" on the last page.')
    truncated: str = Field(description='"true" when more pages follow, else "false".')
    total: int = Field(description="Grants matching the query, all pages together.")


class GrantEmptyResponse(ResponseModel):
    """revoke-grant and retire-grant: an empty object."""


def grant_info(grant: Grant) -> GrantInfo:
    return GrantInfo(
        key_id=grant.key_id,
        grant_id=grant.grant_id,
        grantee_principal=grant.grantee_principal,
        grantee_principal_type=grant.grantee_principal_type,
        operations=list(grant.operations),
        issuing_principal=grant.issuing_principal,
        creation_date=str(grant.creation_date),
        name=grant.name,
        retiring_principal=grant.retiring_principal,
    )


def list_grants_response(page: GrantPage) -> ListGrantsResponse:
    return ListGrantsResponse(
        grants=[grant_info(g) for g in page.grants],
        next_marker=page.next_marker,
        truncated=bool_str(page.truncated),
        total=page.total,
    )
