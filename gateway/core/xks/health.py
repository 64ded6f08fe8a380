"""GetHealthStatus: a deep check of the token, cached, never touching a customer's key.

The check is a seal/open round trip on the gateway's own key :data:`HEALTH_KEY_LABEL` (made with
the gateway's other own keys on a fresh token): it proves the token answers *and* does AES-GCM,
which is what the next Encrypt or Decrypt needs. ``ACTIVE`` results are reused for
``health_cache_s`` (the specification allows up to a minute); ``DEGRADED`` (the round trip worked
but took longer than :data:`DEGRADED_AFTER_S`) and ``UNAVAILABLE`` are re-checked on every call,
and an HSM the executor already knows to be down answers ``UNAVAILABLE`` without a job.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass

from gateway.core.errors import KmsError
from gateway.core.ports.hsm import RESERVED_LABEL_PREFIX, HsmBusy, HsmPort, OpenItem, SealItem, TokenInfo

HEALTH_KEY_LABEL = RESERVED_LABEL_PREFIX + "xks-health"
ACTIVE, DEGRADED, UNAVAILABLE = "ACTIVE", "DEGRADED", "UNAVAILABLE"
DEGRADED_AFTER_S = 0.1  # an AWS KMS call gives up after 250 ms, network and TLS included
_PROBE = b"kmsgw xks health probe"
_PROBE_AAD = b"kmsgw-xks-health"
_UNKNOWN_TOKEN = TokenInfo("unknown", "unknown", "", "")


@dataclass(frozen=True)
class HealthReport:
    fleet_size: int
    proxy_vendor: str
    proxy_model: str
    token: TokenInfo
    status: str  # ACTIVE | DEGRADED | UNAVAILABLE


class XksHealth:
    def __init__(self, hsm: HsmPort, cache_s: float, fleet_size: int, vendor: str, model: str) -> None:
        self._hsm = hsm
        self._cache_s = cache_s
        self._fleet_size = fleet_size
        self._vendor = vendor
        self._model = model
        self._active_until = 0.0  # monotonic: a passed check is reused until then
        self._lock = asyncio.Lock()  # concurrent calls after expiry share one check
        self._token: TokenInfo | None = None

    async def report(self) -> HealthReport:
        status = await self.status()
        return HealthReport(self._fleet_size, self._vendor, self._model, await self._token_info(), status)

    async def status(self) -> str:
        if not self._hsm.healthy:
            self._active_until = 0.0
            return UNAVAILABLE
        if time.monotonic() < self._active_until:
            return ACTIVE
        async with self._lock:
            if time.monotonic() < self._active_until:
                return ACTIVE
            status = await self._round_trip()
            if status == ACTIVE:
                self._active_until = time.monotonic() + self._cache_s
            return status

    async def _round_trip(self) -> str:
        start = time.perf_counter()
        try:
            [(iv, body)] = await self._hsm.seal_many(HEALTH_KEY_LABEL, [SealItem(_PROBE, _PROBE_AAD)])
            [plain] = await self._hsm.open_many([OpenItem(HEALTH_KEY_LABEL, iv, body, _PROBE_AAD)])
        except (KmsError, HsmBusy):
            return UNAVAILABLE
        if plain is None or not hmac.compare_digest(plain, _PROBE):
            return UNAVAILABLE
        return DEGRADED if time.perf_counter() - start > DEGRADED_AFTER_S else ACTIVE

    async def _token_info(self) -> TokenInfo:
        """Read once; while the token is down at first use, "unknown" (and asked again next time)."""
        if self._token is None:
            try:
                self._token = await self._hsm.token_info()
            except KmsError:
                return _UNKNOWN_TOKEN
        return self._token
