"""Core records to protobuf messages (shared by the RPC groups)."""

from __future__ import annotations

from collections.abc import Collection

from gateway.core.errors import KmsError
from gateway.core.model import KeyRecord
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.rpc import Ctx


def key_info(rec: KeyRecord, rotating: Collection[str] = ()) -> pb.KeyInfo:
    """``rotating``: the ids among these keys that rotate automatically (``Kms.rotation_enabled_keys``)."""
    return pb.KeyInfo(
        key_id=rec.key_id,
        domain_id=rec.domain_id,
        key_alias=rec.key_alias,
        realm=rec.realm,
        key_description=rec.key_description,
        creation_date=rec.creation_date,
        scheduled_deletion_date=rec.scheduled_deletion_date or 0,
        key_state=int(rec.key_state),
        default_key_flag=int(rec.default_key_flag),
        key_type=rec.key_type,
        expiration_time=rec.expiration_time or 0,
        origin=rec.origin,
        key_spec=rec.key_spec,
        key_usage=rec.key_usage,
        key_version=rec.current_version,
        key_rotation_enabled=rec.key_id in rotating,
    )


def key_info_response(ctx: Ctx, rec: KeyRecord) -> pb.KeyInfoResponse:
    """A key's full ``KeyInfo``, its rotation setting included (one store read)."""
    return pb.KeyInfoResponse(key_info=key_info(rec, ctx.kms.rotation_enabled_keys([rec])))


def item_error(ctx: Ctx, exc: KmsError) -> pb.Error:
    """A batch item's error, rendered by the transport's dialect."""
    wire = ctx.dialect.render(exc)
    return pb.Error(error_code=wire.code, error_msg=wire.message)
