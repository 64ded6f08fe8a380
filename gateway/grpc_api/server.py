"""The grpc.aio server: the KMS service, standard health checking, and reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.grpc_api.servicer import KmsServicer
from gateway.runtime import Runtime

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["KeyManagementService"].full_name


def build(
    rt: Runtime, listen: str, *, reuse_port: bool = False
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    options = [("grpc.so_reuseport", 1 if reuse_port else 0), ("grpc.max_receive_message_length", 4 * 1024 * 1024)]
    server = grpc.aio.server(options=options)
    pb_grpc.add_KeyManagementServiceServicer_to_server(KmsServicer(rt), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    return server, health_servicer, port


async def mark_serving(health_servicer: health.aio.HealthServicer, serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, status)
