"""REST routes of key tags and queries by tag (docs/api.md)."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.rest import schemas_tags as s
from gateway.rest.routing import Ctx, RouteGroup

routes = RouteGroup("tags", "Tag keys (up to 10 each) and find or count keys by their tags.")


def _item(tag: s.TagItemIn) -> dict[str, str | None]:
    return {"key": tag.key, "value": tag.value}


@routes.post(
    "/resource_instances/action",
    op=ops.LIST_KMS_BY_TAGS,
    request=s.ListKmsByTagsRequest,
    response=s.ListKmsByTagsResponse,
    summary="Filter or count the project's keys by tags",
    sdk="list_kms_by_tags",
)
async def list_kms_by_tags(ctx: Ctx, body: s.ListKmsByTagsRequest) -> s.ListKmsByTagsResponse:
    """tags: every listed tag key must be present (any of its listed values; no values: any value);
    matches: resource_name (the alias) contains the value."""
    page = ctx.kms.list_resource_instances(
        ctx.caller,
        action=body.action,
        limit=body.limit,
        offset=body.offset,
        tags=None if body.tags is None else [{"key": t.key, "values": t.values or []} for t in body.tags],
        matches=None if body.matches is None else [{"key": m.key, "value": m.value} for m in body.matches],
        sequence=body.sequence,
    )
    rotating = ctx.kms.rotation_enabled_keys([item.key for item in page.resources])
    return s.by_tags_response(page, body.action, rotating)


@routes.get(
    "/tags",
    op=ops.LIST_KMS_TAGS,
    response=s.ListKmsTagsResponse,
    summary="Every tag key of the project with its values",
    sdk="list_kms_tags",
)
async def list_kms_tags(ctx: Ctx, body: None) -> s.ListKmsTagsResponse:
    tags = ctx.kms.list_project_tags(ctx.caller)
    return s.ListKmsTagsResponse(tags=[s.TagOut(key=k, values=v) for k, v in tags.items()])


@routes.get(
    "/{key_id}/tags",
    op=ops.SHOW_KMS_TAGS,
    response=s.ShowKmsTagsResponse,
    summary="A key's tags",
    sdk="show_kms_tags",
)
async def show_kms_tags(ctx: Ctx, body: None) -> s.ShowKmsTagsResponse:
    tags = ctx.kms.list_key_tags(ctx.caller, ctx.path["key_id"])
    return s.ShowKmsTagsResponse(tags=s.tag_items(tags), existTagsNum=len(tags))


@routes.post(
    "/{key_id}/tags/action",
    op=ops.BATCH_CREATE_KMS_TAGS,
    request=s.BatchKmsTagsRequest,
    status=204,
    summary="Add or delete several tags of a key at once",
    sdk="batch_create_kms_tags",
)
async def batch_create_kms_tags(ctx: Ctx, body: s.BatchKmsTagsRequest) -> None:
    """All or nothing; a key ends with at most 10 tags."""
    ctx.kms.batch_key_tags(ctx.caller, ctx.path["key_id"], body.action, [_item(t) for t in body.tags], body.sequence)


@routes.post(
    "/{key_id}/tags",
    op=ops.CREATE_KMS_TAG,
    request=s.CreateKmsTagRequest,
    status=204,
    summary="Add a tag to a key (an existing tag key gets the new value)",
    sdk="create_kms_tag",
)
async def create_kms_tag(ctx: Ctx, body: s.CreateKmsTagRequest) -> None:
    ctx.kms.create_key_tag(ctx.caller, ctx.path["key_id"], _item(body.tag), body.sequence)


@routes.delete(
    "/{key_id}/tags/{key:path}",
    op=ops.DELETE_TAG,
    status=204,
    summary="Delete a key's tag by its tag key (deleting an absent tag succeeds)",
    sdk="delete_tag",
)
async def delete_tag(ctx: Ctx, body: None) -> None:
    ctx.kms.delete_key_tag(ctx.caller, ctx.path["key_id"], ctx.path["key"])
