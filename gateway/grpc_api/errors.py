"""Domain errors to gRPC: a status code by the error's kind, the KMS code in trailing metadata."""

from __future__ import annotations

import grpc

from gateway.core.errors import Kind

STATUS_BY_KIND = {
    Kind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Kind.STATE: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Kind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Kind.PERMISSION: grpc.StatusCode.PERMISSION_DENIED,
    Kind.QUOTA: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.INTERNAL: grpc.StatusCode.INTERNAL,
}
