"""The in-process gateway the session fixture runs, and the gRPC client tests get from it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc

from gateway.app.runtime import Runtime
from gateway.core.clock import OffsetClock
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc


def new_project_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Gateway:
    """A running gateway: its runtime, ports, clock, and helpers to get callers."""

    rt: Runtime
    loop: asyncio.AbstractEventLoop
    clock: OffsetClock
    grpc_port: int = 0
    http_port: int = 0
    _channels: list[grpc.Channel] = field(default_factory=list)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the gateway's loop (the HSM executor answers there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def token(self, project_id: str | None = None, ttl: int = 3600, **kw: Any) -> str:
        return str(self.rt.auth.create_token(project_id or new_project_id(), ttl, **kw)["token"])

    def credentials(self, project_id: str | None = None) -> dict[str, str]:
        return self.call(self.rt.auth.create_credentials(project_id or new_project_id()))

    def stub(self, token: str | None) -> KmsClient:
        channel = grpc.insecure_channel(self.grpc_target)
        self._channels.append(channel)
        return KmsClient(pb_grpc.KeyManagementServiceStub(channel), token)


class KmsClient:
    """A stub that adds the x-auth-token metadata to every call."""

    def __init__(self, stub: pb_grpc.KeyManagementServiceStub, token: str | None) -> None:
        self._stub = stub
        self._md = (("x-auth-token", token),) if token else ()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)
        return lambda request, **kw: method(request, metadata=self._md, timeout=kw.pop("timeout", 30), **kw)


def kms_code(err: grpc.RpcError) -> str:
    """The KMS error code from a failed call's trailing metadata."""
    return dict(err.trailing_metadata() or ()).get("kms-error-code", "")
