"""Key tags on the wire (docs/api.md; SDK models ``TagItem``, ``Tag``,
``CreateKmsTagRequestBody``, ``BatchCreateKmsTagsRequestBody``, ``ListKmsByTagsRequestBody``,
``ActionResources``, ``ShowKmsTagsResponse``).

The schema checks JSON types only; lengths, characters and counts are the core's rules, each
with its own code (KMS.0401-0417). ``existTagsNum`` is camelCase on the wire, as the reference's
example and the SDK have it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.core.errors import Err
from gateway.core.model import ResourcePage
from gateway.rest.schemas_common import OptNumStr, RequestModel, ResponseModel, field
from gateway.rest.schemas_keys import KeyDetails, key_details

TAG_KEY_DOC = "Tag key: 1 to 36 characters, no ASCII 0-31 and none of * < > \\ =."
TAG_VALUE_DOC = "Tag value: 0 to 43 characters, no ASCII 0-31 and none of * < > \\ =."


class _Item(BaseModel):
    """A nested object of a request: the request's strict typing, no ``sequence`` of its own."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class TagItemIn(_Item):
    key: str = field(Err.INVALID_TAG_KEY, TAG_KEY_DOC)
    value: str | None = field(Err.INVALID_TAG_VALUE, TAG_VALUE_DOC + " Empty when absent.", None)


class TagFilter(_Item):
    key: str = field(Err.INVALID_TAG_KEY, TAG_KEY_DOC)
    values: list[str] | None = field(
        Err.INVALID_TAG_VALUE, "Up to 10 values, any of which matches; none: any value of the key.", None
    )


class MatchItem(_Item):
    key: str = field(Err.INVALID_MATCH_KEY, "resource_name (the key alias).")
    value: str = field(Err.INVALID_MATCH_VALUE, "1 to 255 characters the alias must contain.")


class CreateKmsTagRequest(RequestModel):
    tag: TagItemIn = field(Err.INVALID_TAG_LIST, "The tag to add (an existing tag key gets the new value).")


class BatchKmsTagsRequest(RequestModel):
    tags: list[TagItemIn] = field(Err.INVALID_TAG_LIST, "1 to 10 tags.")
    action: str = field(Err.INVALID_ACTION, "create or delete (delete: a value, if given, must match).")


class ListKmsByTagsRequest(RequestModel):
    action: str = field(Err.INVALID_ACTION, "filter (a page of keys) or count (total_count only).")
    limit: OptNumStr = field(Err.INVALID_LIMIT, 'filter: page size "1" to "1000" (default "10").', None)
    offset: OptNumStr = field(Err.INVALID_OFFSET, 'filter: keys to skip, "0" or more (default "0").', None)
    tags: list[TagFilter] | None = field(
        Err.INVALID_TAG_LIST, "Up to 10 tag keys, all of which a key must carry.", None
    )
    matches: list[MatchItem] | None = field(Err.INVALID_MATCHES, "resource_name substring match.", None)


class TagItemOut(ResponseModel):
    key: str
    value: str


class TagOut(ResponseModel):
    key: str
    values: list[str]


class ShowKmsTagsResponse(ResponseModel):
    tags: list[TagItemOut]
    existTagsNum: int = Field(description="Number of tags of the key.")  # the wire name (camelCase)


class ListKmsTagsResponse(ResponseModel):
    tags: list[TagOut]


class ActionResource(ResponseModel):
    resource_id: str = Field(description="The key ID.")
    resource_detail: KeyDetails
    resource_name: str = Field(description="The key alias.")
    tags: list[TagItemOut]


class ListKmsByTagsResponse(ResponseModel):
    resources: list[ActionResource] | None = Field(default=None, description="filter only: the page of keys.")
    total_count: int = Field(description="Keys matching, all pages together.")


def tag_items(tags: dict[str, str]) -> list[TagItemOut]:
    return [TagItemOut(key=k, value=v) for k, v in tags.items()]


def by_tags_response(
    page: ResourcePage, action: str, rotating: set[str] | frozenset[str] = frozenset()
) -> ListKmsByTagsResponse:
    if action == "count":
        return ListKmsByTagsResponse(total_count=page.total_count)
    return ListKmsByTagsResponse(
        resources=[
            ActionResource(
                resource_id=item.key.key_id,
                resource_detail=key_details(item.key, item.key.key_id in rotating),
                resource_name=item.key.key_alias,
                tags=tag_items(item.tags),
            )
            for item in page.resources
        ],
        total_count=page.total_count,
    )
