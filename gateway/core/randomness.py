"""gen-random: bytes straight from the token's RNG."""

from __future__ import annotations

from gateway.core import validate
from gateway.core.errors import Err
from gateway.core.model import Caller
from gateway.core.ports.hsm import HsmPort


class RandomOps:
    def __init__(self, hsm: HsmPort) -> None:
        self._hsm = hsm

    async def generate_random(self, caller: Caller, random_data_length: int, sequence: str | None = None) -> bytes:
        validate.sequence(sequence)
        nbytes = validate.bits_to_bytes(random_data_length, Err.INVALID_RANDOM_LENGTH)
        return await self._hsm.random(nbytes)
