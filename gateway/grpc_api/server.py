"""The grpc.aio server: the KMS service, standard health checking, and reflection."""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.servicer import KmsServicer, Undecodable
from gateway.pipeline import Services

SERVICE = pb.DESCRIPTOR.services_by_name["KeyManagementService"]
SERVICE_NAME = SERVICE.full_name


def tolerant(message_type: type[Message]) -> Callable[[bytes], Any]:
    """``message_type.FromString``, but bytes that do not decode give :class:`Undecodable`.

    grpc answers a deserializer's exception with UNKNOWN and no ``kms-error-code`` (and logs a
    traceback per call); the handler answers an ``Undecodable`` INVALID_ARGUMENT like any bad input.
    """
    name = message_type.DESCRIPTOR.full_name

    def decode(data: bytes) -> Any:
        try:
            return message_type.FromString(data)
        except (DecodeError, ValueError):
            return Undecodable(name)

    return decode


def add_kms_service(servicer: KmsServicer, server: grpc.aio.Server) -> None:
    """What ``pb_grpc.add_KeyManagementServiceServicer_to_server`` does, with tolerant decoding
    and without registering each method (see below). Every method of the service must have
    exactly one handler in the RPC groups (``servicer_*.py``), and no handler may name another."""
    served = {method.name for method in SERVICE.methods}
    if served != set(servicer.methods):
        missing, unknown = sorted(served - set(servicer.methods)), sorted(set(servicer.methods) - served)
        raise RuntimeError(f"gRPC handlers do not match the service: missing {missing}, unknown {unknown}")
    handlers = {}
    for method in SERVICE.methods:
        assert not (method.client_streaming or method.server_streaming), method.full_name
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            servicer.methods[method.name],
            request_deserializer=tolerant(getattr(pb, method.input_type.name)),
            response_serializer=getattr(pb, method.output_type.name).SerializeToString,
        )
    # Generic handler only, on purpose: grpc.aio keeps one pending accept per *registered* method
    # and waits on all of them for every call, O(methods) Python work per request; serving the
    # 43 methods through one generic handler measured +17 % unary throughput (benchmarks/ANALYSIS.md).
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


class _GenericOnly:
    """Hands a server to generated ``add_*_to_server`` functions minus method registration, so
    health and reflection add no per-call accept work either (see ``add_kms_service``)."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
        pass


def build(
    services: Services, listen: str, *, reuse_port: bool = False, credentials: grpc.ServerCredentials | None = None
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """The server, its health servicer and bound port; ``credentials``: serve TLS (the composition
    root builds them from ``[tls]``, mTLS per its client_auth)."""
    options = [
        ("grpc.so_reuseport", 1 if reuse_port else 0),
        ("grpc.max_receive_message_length", 4 * 1024 * 1024),
        # A flood of connections that never finish their HTTP/2 handshake must not use up the process's
        # file descriptors (the REST listener shares them): cap them, and drop a stalled handshake sooner.
        ("grpc.max_allowed_incoming_connections", grpc_connection_cap()),
        ("grpc.server_handshake_timeout_ms", 10_000),
    ]
    server = grpc.aio.server(options=options)
    add_kms_service(KmsServicer(services), server)
    health_servicer = health.aio.HealthServicer()
    generic_only = _GenericOnly(server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, generic_only)
    names = (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection.aio.ReflectionServicer(names), generic_only)
    port = server.add_secure_port(listen, credentials) if credentials else server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    return server, health_servicer, port


def grpc_connection_cap() -> int:
    """A quarter of the open-file limit (REST's cap takes half: gateway/rest/protocol.py)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, (1 << 20 if soft == resource.RLIM_INFINITY else soft) // 4)


async def mark_serving(health_servicer: health.aio.HealthServicer, serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, status)
