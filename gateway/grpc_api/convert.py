"""Core records to protobuf messages."""

from __future__ import annotations

from gateway.core.model import KeyRecord
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb


def key_info(rec: KeyRecord) -> pb.KeyInfo:
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
    )
