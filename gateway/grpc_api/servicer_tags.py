"""Key tags (at most 10 a key) and queries by tag on gRPC."""

from __future__ import annotations

from gateway.core import operations as ops
from gateway.core.model import Caller
from gateway.grpc_api.convert import key_info
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx, RpcGroup

rpcs = RpcGroup("tags")


@rpcs.method("CreateKeyTag", ops.CREATE_KMS_TAG)
async def create_key_tag(ctx: Ctx, r: pb.CreateKeyTagRequest, caller: Caller) -> pb.Empty:
    tag = {"key": r.tag.key, "value": r.tag.value} if r.HasField("tag") else None
    ctx.kms.create_key_tag(caller, r.key_id, tag)
    return pb.Empty()


@rpcs.method("BatchKeyTags", ops.BATCH_CREATE_KMS_TAGS)
async def batch_key_tags(ctx: Ctx, r: pb.BatchKeyTagsRequest, caller: Caller) -> pb.Empty:
    ctx.kms.batch_key_tags(caller, r.key_id, r.action, [{"key": t.key, "value": t.value} for t in r.tags])
    return pb.Empty()


@rpcs.method("DeleteKeyTag", ops.DELETE_TAG)
async def delete_key_tag(ctx: Ctx, r: pb.DeleteKeyTagRequest, caller: Caller) -> pb.Empty:
    ctx.kms.delete_key_tag(caller, r.key_id, r.key)
    return pb.Empty()


@rpcs.method("ListKeyTags", ops.SHOW_KMS_TAGS)
async def list_key_tags(ctx: Ctx, r: pb.KeyIdRequest, caller: Caller) -> pb.ListKeyTagsResponse:
    tags = ctx.kms.list_key_tags(caller, r.key_id)
    return pb.ListKeyTagsResponse(tags=_tag_items(tags), existTagsNum=len(tags))


@rpcs.method("ListProjectTags", ops.LIST_KMS_TAGS)
async def list_project_tags(ctx: Ctx, r: pb.Empty, caller: Caller) -> pb.ListProjectTagsResponse:
    tags = ctx.kms.list_project_tags(caller)
    return pb.ListProjectTagsResponse(tags=[pb.Tag(key=k, values=v) for k, v in tags.items()])


@rpcs.method("ListResourceInstances", ops.LIST_KMS_BY_TAGS)
async def list_resource_instances(
    ctx: Ctx, r: pb.ListResourceInstancesRequest, caller: Caller
) -> pb.ListResourceInstancesResponse:
    page = ctx.kms.list_resource_instances(
        caller,
        action=r.action,
        limit=r.limit or None,
        offset=r.offset,
        tags=[{"key": t.key, "values": list(t.values)} for t in r.tags],
        matches=[{"key": m.key, "value": m.value} for m in r.matches] or None,
    )
    rotating = ctx.kms.rotation_enabled_keys([item.key for item in page.resources])
    return pb.ListResourceInstancesResponse(
        resources=[
            pb.ResourceInstance(
                resource_id=item.key.key_id,
                resource_detail=key_info(item.key, rotating),
                resource_name=item.key.key_alias,
                tags=_tag_items(item.tags),
            )
            for item in page.resources
        ],
        total_count=page.total_count,
    )


def _tag_items(tags: dict[str, str]) -> list[pb.TagItem]:
    return [pb.TagItem(key=k, value=v) for k, v in tags.items()]
