"""gen-random: bytes straight from the token's RNG."""

from __future__ import annotations

from gateway.core import validate
from gateway.core.base import CoreBase
from gateway.core.errors import Err
from gateway.core.model import Caller


class RandomOps(CoreBase):
    async def generate_random(self, caller: Caller, random_data_length: int, sequence: str | None = None) -> bytes:
        validate.sequence(sequence)
        nbytes = validate.bits_to_bytes(random_data_length, Err.INVALID_RANDOM_LENGTH)
        return await self.hsm.random(nbytes)
