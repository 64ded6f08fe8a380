"""Keys: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion,
UpdateKeyDescription, tags, key policies and rotation."""

from __future__ import annotations

from typing import Any

from gateway.aws.metadata import key_metadata, seconds
from gateway.aws.routing import handles
from gateway.core import operations as ops
from gateway.core.aws import AwsService
from gateway.core.aws.directory import AwsIdentity
from gateway.core.aws.names import key_arn

Req = dict[str, Any]
Resp = dict[str, Any]


def _tags(req: Req) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in req.get("Tags", [])}


@handles("CreateKey", ops.AWS_CREATE_KEY)
async def create_key(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key = await aws.keys.create_key(
        who,
        policy=req.get("Policy"),
        description=req.get("Description", ""),
        key_usage=req.get("KeyUsage"),
        key_spec=req.get("KeySpec") or req.get("CustomerMasterKeySpec"),
        origin=req.get("Origin"),
        bypass_lockout=req.get("BypassPolicyLockoutSafetyCheck", False),
        tags=_tags(req),
        multi_region=bool(req.get("MultiRegion")),
    )
    return {"KeyMetadata": key_metadata(key)}


@handles("DescribeKey", ops.AWS_DESCRIBE_KEY)
async def describe_key(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return {"KeyMetadata": key_metadata(aws.keys.describe_key(who, req["KeyId"]))}


@handles("ListKeys", ops.AWS_LIST_KEYS)
async def list_keys(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    rows, marker = aws.keys.list_keys(who, req.get("Limit"), req.get("Marker"))
    keys = [{"KeyId": r.key_id, "KeyArn": key_arn(r.region, r.account_id, r.key_id)} for r in rows]
    return {"Keys": keys, "Truncated": bool(marker), "NextMarker": marker or None}


@handles("EnableKey", ops.AWS_ENABLE_KEY)
async def enable_key(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.enable_key(who, req["KeyId"])
    return {}


@handles("DisableKey", ops.AWS_DISABLE_KEY)
async def disable_key(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.disable_key(who, req["KeyId"])
    return {}


@handles("ScheduleKeyDeletion", ops.AWS_SCHEDULE_KEY_DELETION)
async def schedule_key_deletion(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    days = req.get("PendingWindowInDays")
    key = aws.keys.schedule_key_deletion(who, req["KeyId"], days)
    return {
        "KeyId": key.arn,
        "DeletionDate": seconds(key.rec.scheduled_deletion_date),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days or 30,
    }


@handles("CancelKeyDeletion", ops.AWS_CANCEL_KEY_DELETION)
async def cancel_key_deletion(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return {"KeyId": aws.keys.cancel_key_deletion(who, req["KeyId"]).arn}


@handles("UpdateKeyDescription", ops.AWS_UPDATE_KEY_DESCRIPTION)
async def update_key_description(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.update_key_description(who, req["KeyId"], req["Description"])
    return {}


# -- tags ----------------------------------------------------------------------------------------
@handles("TagResource", ops.AWS_TAG_RESOURCE)
async def tag_resource(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.tag_resource(who, req["KeyId"], _tags(req))
    return {}


@handles("UntagResource", ops.AWS_UNTAG_RESOURCE)
async def untag_resource(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.untag_resource(who, req["KeyId"], req["TagKeys"])
    return {}


@handles("ListResourceTags", ops.AWS_LIST_RESOURCE_TAGS)
async def list_resource_tags(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    tags, marker = aws.keys.list_resource_tags(who, req["KeyId"], req.get("Limit"), req.get("Marker"))
    return {
        "Tags": [{"TagKey": k, "TagValue": v} for k, v in tags],
        "Truncated": bool(marker),
        "NextMarker": marker or None,
    }


# -- key policies ----------------------------------------------------------------------------------
@handles("GetKeyPolicy", ops.AWS_GET_KEY_POLICY)
async def get_key_policy(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return {"Policy": aws.keys.get_key_policy(who, req["KeyId"], req.get("PolicyName")), "PolicyName": "default"}


@handles("PutKeyPolicy", ops.AWS_PUT_KEY_POLICY)
async def put_key_policy(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    bypass = req.get("BypassPolicyLockoutSafetyCheck", False)
    aws.keys.put_key_policy(who, req["KeyId"], req.get("PolicyName"), req["Policy"], bypass)
    return {}


@handles("ListKeyPolicies", ops.AWS_LIST_KEY_POLICIES)
async def list_key_policies(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return {"PolicyNames": aws.keys.list_key_policies(who, req["KeyId"]), "Truncated": False}


# -- rotation ------------------------------------------------------------------------------------
@handles("EnableKeyRotation", ops.AWS_ENABLE_KEY_ROTATION)
async def enable_key_rotation(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.enable_key_rotation(who, req["KeyId"], req.get("RotationPeriodInDays"))
    return {}


@handles("DisableKeyRotation", ops.AWS_DISABLE_KEY_ROTATION)
async def disable_key_rotation(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    aws.keys.disable_key_rotation(who, req["KeyId"])
    return {}


@handles("GetKeyRotationStatus", ops.AWS_GET_KEY_ROTATION_STATUS)
async def get_key_rotation_status(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key, status = aws.keys.get_key_rotation_status(who, req["KeyId"])
    return {
        "KeyRotationEnabled": status.enabled,
        "KeyId": key.arn,
        "RotationPeriodInDays": status.period_days if status.enabled else None,
        "NextRotationDate": seconds(status.next_rotation_ms),
    }


@handles("RotateKeyOnDemand", ops.AWS_ROTATE_KEY_ON_DEMAND)
async def rotate_key_on_demand(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return {"KeyId": (await aws.keys.rotate_key_on_demand(who, req["KeyId"])).arn}


@handles("ListKeyRotations", ops.AWS_LIST_KEY_ROTATIONS)
async def list_key_rotations(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key, rows, marker = aws.keys.list_key_rotations(who, req["KeyId"], req.get("Limit"), req.get("Marker"))
    rotations = [
        {"KeyId": key.arn, "RotationDate": seconds(r.rotated_at), "RotationType": r.rotation_type} for r in rows
    ]
    return {"Rotations": rotations, "Truncated": bool(marker), "NextMarker": marker or None}
