"""The XKS proxy API (AWS KMS External Key Store), once the gateway serves it.

The gateway has no XKS endpoint yet: until it does, this driver reports the transport absent and
its cells are skipped with that reason. When the endpoint lands, :meth:`XksDriver.prepare` maps
the operations onto ``/kms/xks/v1/keys/{id}/encrypt|decrypt`` with SigV4-signed requests.
"""

from __future__ import annotations

from gateway.bench.gw.drivers.base import Call, Driver
from gateway.bench.gw.ops import Endpoint, Fixture


class XksDriver(Driver):
    name = "xks"

    @classmethod
    def unavailable(cls, endpoint: Endpoint) -> str | None:
        if not endpoint.xks_url:
            return "the gateway serves no XKS endpoint (not implemented yet; --xks-url when it does)"
        return "an XKS driver is not implemented in this version of kmsgw bench"

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    async def prepare(self, operation: str, fx: Fixture, payload: int, batch: int, verify: bool) -> Call:
        raise NotImplementedError
