"""What the control surface and the extensions of a dev gateway reach: the runtime, its clock, its
fault switch, and the one sweep that runs after a clock move."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from gateway.app.devmode.faults import FaultableExecutor, FaultSwitch
from gateway.app.runtime import Runtime
from gateway.core.clock import OffsetClock

log = logging.getLogger(__name__)
LONG_TOKEN_TTL_S = 10 * 365 * 86400  # project tokens outlive any clock travel a test does


@dataclass
class DevContext:
    rt: Runtime
    clock: OffsetClock
    control_token: str
    endpoints: dict[str, Any] = field(default_factory=dict)  # grpc_target, rest_url, control_url once serving
    _sweep_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def executor(self) -> FaultableExecutor:
        executor = self.rt.executor
        assert isinstance(executor, FaultableExecutor)
        return executor

    @property
    def faults(self) -> FaultSwitch:
        return self.executor.faults

    async def sweep(self) -> dict[str, list[str]]:
        """The background sweeps, now: deletion, rotation, imported-material and import-token expiry."""
        kms = self.rt.kms
        async with self._sweep_lock:
            deleted = await kms.delete_due_keys()
            rotated = await kms.rotate_due_keys()
            expired, dropped = await kms.import_sweep()
        return {
            "deleted": sorted(deleted),
            "rotated": sorted(rotated),
            "expired_material": sorted(expired),
            "dropped_import_parameters": sorted(dropped),
        }

    async def sweep_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("dev sweep failed")

    async def new_project(
        self,
        project_id: str | None = None,
        *,
        allow: list[str] | None = None,
        token_ttl: int = LONG_TOKEN_TTL_S,
        credentials: bool = True,
    ) -> dict[str, Any]:
        """A project with a bearer token and (unless told not to) an AK/SK pair, in one call."""
        auth = self.rt.auth
        actions = frozenset(allow) if allow is not None else None
        project_id = project_id or uuid.uuid4().hex
        token = auth.create_token(project_id, token_ttl, actions=actions)
        out: dict[str, Any] = {
            "project_id": project_id,
            "domain_id": token["domain_id"],
            "token": token["token"],
            "token_expires_at": token["expires_at"],
            "token_user_id": token["user_id"],
        }
        if credentials:
            creds = await auth.create_credentials(project_id, str(token["domain_id"]), actions)
            out.update(access_key=creds["access_key"], secret_key=creds["secret_key"], user_id=creds["user_id"])
        return out
