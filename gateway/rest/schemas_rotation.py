"""Key rotation on the wire (SDK models ``UpdateKeyRotationIntervalRequestBody``,
``ShowKeyRotationStatusResponse``, ``RotateOnDemandRequestBody``; codes KMS.0312, 0313, 2901, 3001, docs/api.md).

Unlike the reference's string-typed numbers, the SDK sends ``rotation_interval`` as a JSON number and
reads ``key_rotation_enabled`` as a real boolean; a string of digits is accepted too.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PlainValidator, WithJsonSchema

from gateway.core.errors import Err
from gateway.core.model import RotationStatus
from gateway.rest.schemas_common import RequestModel, ResponseModel, field
from gateway.rest.schemas_keys import KEY_ID_DOC


def _int_or_digits(value: object) -> int:
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 10:
        return int(value)
    raise ValueError("must be an integer (a JSON number or a string of digits)")


#: An integer sent as a JSON number (the SDK) or a string of digits (the reference's habit).
IntOrDigits = Annotated[
    int,
    PlainValidator(_int_or_digits),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]{1,10}$"}]}),
]


class RotationKeyRequest(RequestModel):
    """Body of enable-key-rotation, disable-key-rotation and get-key-rotation-status."""

    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)


class UpdateKeyRotationIntervalRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)
    rotation_interval: IntOrDigits = field(Err.INVALID_ROTATION_INTERVAL, "Days between rotations, 30 to 365.")


class RotateOnDemandRequest(RequestModel):
    key_id: str = field(Err.INVALID_KEY_ID, KEY_ID_DOC)


class RotationEmptyResponse(ResponseModel):
    """enable-key-rotation, disable-key-rotation, update-key-rotation-interval: an empty object."""


class KeyRotationStatusResponse(ResponseModel):
    key_rotation_enabled: bool = Field(description="A JSON boolean (the SDK model types it bool).")
    rotation_interval: int = Field(description="Days between automatic rotations, 30 to 365 (default 365).")
    last_rotation_time: str = Field(description='Millisecond epoch of the last rotation, "" before the first.')
    number_of_rotations: int = Field(description="Rotations so far (on demand and scheduled).")


class RotateOnDemandResponse(ResponseModel):
    key_id: str


def rotation_status(status: RotationStatus) -> KeyRotationStatusResponse:
    return KeyRotationStatusResponse(
        key_rotation_enabled=status.key_rotation_enabled,
        rotation_interval=status.rotation_interval,
        last_rotation_time="" if status.last_rotation_time is None else str(status.last_rotation_time),
        number_of_rotations=status.number_of_rotations,
    )
