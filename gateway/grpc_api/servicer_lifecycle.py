"""Rotation, grants and tags on gRPC: translate messages, call the core, nothing more."""

from __future__ import annotations

from gateway.core.model import Caller, GrantPage, RotationStatus
from gateway.grpc_api.convert import key_info
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.servicer_base import ServicerBase


class LifecycleServicer(ServicerBase):
    # -- rotation ---------------------------------------------------------------------
    async def EnableKeyRotation(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
            return _rotation(self.kms.enable_key_rotation(caller, r.key_id))

        return await self._handle("enable_key_rotation", request, context, fn)

    async def DisableKeyRotation(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
            return _rotation(self.kms.disable_key_rotation(caller, r.key_id))

        return await self._handle("disable_key_rotation", request, context, fn)

    async def UpdateKeyRotationInterval(self, request, context):
        async def fn(r: pb.UpdateKeyRotationIntervalRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
            return _rotation(self.kms.update_key_rotation_interval(caller, r.key_id, r.rotation_interval))

        return await self._handle("update_key_rotation_interval", request, context, fn)

    async def GetKeyRotationStatus(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.KeyRotationStatusResponse:
            return _rotation(self.kms.get_key_rotation_status(caller, r.key_id))

        return await self._handle("get_key_rotation_status", request, context, fn)

    async def RotateOnDemand(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.RotateOnDemandResponse:
            status = await self.kms.rotate_on_demand(caller, r.key_id)
            return pb.RotateOnDemandResponse(key_id=status.key_id, key_version=status.current_version)

        return await self._handle("rotate_on_demand", request, context, fn)

    # -- grants -----------------------------------------------------------------------
    async def CreateGrant(self, request, context):
        async def fn(r: pb.CreateGrantRequest, caller: Caller) -> pb.CreateGrantResponse:
            grant = self.kms.create_grant(
                caller,
                r.key_id,
                grantee_principal=r.grantee_principal,
                operations=list(r.operations),
                name=r.name,
                retiring_principal=r.retiring_principal,
                grantee_principal_type=r.grantee_principal_type,
            )
            return pb.CreateGrantResponse(grant_id=grant.grant_id)

        return await self._handle("create_grant", request, context, fn)

    async def ListGrants(self, request, context):
        async def fn(r: pb.ListGrantsRequest, caller: Caller) -> pb.ListGrantsResponse:
            return _grants(self.kms.list_grants(caller, r.key_id, limit=r.limit or None, marker=r.marker or None))

        return await self._handle("list_grants", request, context, fn)

    async def ListRetirableGrants(self, request, context):
        async def fn(r: pb.ListRetirableGrantsRequest, caller: Caller) -> pb.ListGrantsResponse:
            return _grants(self.kms.list_retirable_grants(caller, limit=r.limit or None, marker=r.marker or None))

        return await self._handle("list_retirable_grants", request, context, fn)

    async def RevokeGrant(self, request, context):
        async def fn(r: pb.GrantIdRequest, caller: Caller) -> pb.Empty:
            self.kms.revoke_grant(caller, r.key_id, r.grant_id)
            return pb.Empty()

        return await self._handle("revoke_grant", request, context, fn)

    async def RetireGrant(self, request, context):
        async def fn(r: pb.GrantIdRequest, caller: Caller) -> pb.Empty:
            self.kms.retire_grant(caller, r.key_id, r.grant_id)
            return pb.Empty()

        return await self._handle("retire_grant", request, context, fn)

    # -- tags -------------------------------------------------------------------------
    async def CreateKeyTag(self, request, context):
        async def fn(r: pb.CreateKeyTagRequest, caller: Caller) -> pb.Empty:
            tag = {"key": r.tag.key, "value": r.tag.value} if r.HasField("tag") else None
            self.kms.create_key_tag(caller, r.key_id, tag)
            return pb.Empty()

        return await self._handle("create_key_tag", request, context, fn)

    async def BatchKeyTags(self, request, context):
        async def fn(r: pb.BatchKeyTagsRequest, caller: Caller) -> pb.Empty:
            tags = [{"key": t.key, "value": t.value} for t in r.tags]
            self.kms.batch_key_tags(caller, r.key_id, r.action, tags)
            return pb.Empty()

        return await self._handle("batch_key_tags", request, context, fn)

    async def DeleteKeyTag(self, request, context):
        async def fn(r: pb.DeleteKeyTagRequest, caller: Caller) -> pb.Empty:
            self.kms.delete_key_tag(caller, r.key_id, r.key)
            return pb.Empty()

        return await self._handle("delete_key_tag", request, context, fn)

    async def ListKeyTags(self, request, context):
        async def fn(r: pb.KeyIdRequest, caller: Caller) -> pb.ListKeyTagsResponse:
            tags = self.kms.list_key_tags(caller, r.key_id)
            return pb.ListKeyTagsResponse(tags=_tag_items(tags), existTagsNum=len(tags))

        return await self._handle("list_key_tags", request, context, fn)

    async def ListProjectTags(self, request, context):
        async def fn(r: pb.Empty, caller: Caller) -> pb.ListProjectTagsResponse:
            tags = self.kms.list_project_tags(caller)
            return pb.ListProjectTagsResponse(tags=[pb.Tag(key=k, values=v) for k, v in tags.items()])

        return await self._handle("list_project_tags", request, context, fn)

    async def ListResourceInstances(self, request, context):
        async def fn(r: pb.ListResourceInstancesRequest, caller: Caller) -> pb.ListResourceInstancesResponse:
            page = self.kms.list_resource_instances(
                caller,
                action=r.action,
                limit=r.limit or None,
                offset=r.offset,
                tags=[{"key": t.key, "values": list(t.values)} for t in r.tags],
                matches=[{"key": m.key, "value": m.value} for m in r.matches] or None,
            )
            return pb.ListResourceInstancesResponse(
                resources=[
                    pb.ResourceInstance(
                        resource_id=item.key.key_id,
                        resource_detail=key_info(item.key),
                        resource_name=item.key.key_alias,
                        tags=_tag_items(item.tags),
                    )
                    for item in page.resources
                ],
                total_count=page.total_count,
            )

        return await self._handle("list_resource_instances", request, context, fn)


def _rotation(status: RotationStatus) -> pb.KeyRotationStatusResponse:
    return pb.KeyRotationStatusResponse(
        key_id=status.key_id,
        key_rotation_enabled=status.key_rotation_enabled,
        rotation_interval=status.rotation_interval,
        last_rotation_time=status.last_rotation_time or 0,
        number_of_rotations=status.number_of_rotations,
        key_version=status.current_version,
    )


def _grants(page: GrantPage) -> pb.ListGrantsResponse:
    return pb.ListGrantsResponse(
        grants=[
            pb.Grant(
                key_id=g.key_id,
                grant_id=g.grant_id,
                grantee_principal=g.grantee_principal,
                grantee_principal_type=g.grantee_principal_type,
                operations=g.operations,
                issuing_principal=g.issuing_principal,
                creation_date=g.creation_date,
                name=g.name,
                retiring_principal=g.retiring_principal,
            )
            for g in page.grants
        ],
        next_marker=page.next_marker,
        truncated=page.truncated,
        total=page.total,
    )


def _tag_items(tags: dict[str, str]) -> list[pb.TagItem]:
    return [pb.TagItem(key=k, value=v) for k, v in tags.items()]
