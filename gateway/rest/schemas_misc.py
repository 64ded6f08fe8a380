"""gen-random, user-instances and user-quotas on the wire (docs/api.md)."""

from __future__ import annotations

from pydantic import Field

from gateway.core.errors import Err
from gateway.rest.schemas_common import NumStr, RequestModel, ResponseModel, field


class GenRandomRequest(RequestModel):
    random_data_length: NumStr = field(Err.INVALID_RANDOM_LENGTH, 'Bits, a multiple of 8 from "8" to "8192".')


class GenRandomResponse(ResponseModel):
    random_data: str = Field(description="Hex, two digits per byte, from the token's RNG.")


class UserInstancesResponse(ResponseModel):
    instance_num: int = Field(description="Customer master keys of the project (default keys excluded).")


class QuotaResource(ResponseModel):
    type: str = Field(description="CMK or grant_per_CMK.")
    used: int
    quota: int


class Quotas(ResponseModel):
    resources: list[QuotaResource]


class UserQuotasResponse(ResponseModel):
    quotas: Quotas
