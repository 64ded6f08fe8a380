"""The one exception the client raises for a failed call: gRPC status plus the gateway's KMS code."""

from __future__ import annotations

from typing import Any

import grpc


class KmsClientError(Exception):
    """A call the gateway refused, or could not be reached for.

    ``status`` is the gRPC status (``grpc.StatusCode``), ``code`` the KMS error code the gateway put
    in the ``kms-error-code`` trailer (``"KMS.0207"``; empty when the failure happened before the
    gateway answered, e.g. UNAVAILABLE), ``message`` the ``kms-error-msg`` trailer or gRPC's details.
    """

    def __init__(self, status: grpc.StatusCode, code: str, message: str) -> None:
        super().__init__(f"{code or status.name}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> KmsClientError:
        trailers = dict(_call_attr(err, "trailing_metadata", ()) or ())
        status = _call_attr(err, "code", grpc.StatusCode.UNKNOWN) or grpc.StatusCode.UNKNOWN
        code = str(trailers.get("kms-error-code", ""))
        message = str(trailers.get("kms-error-msg", "") or _call_attr(err, "details", "") or status.name)
        return cls(status, code, message)

    @property
    def unreachable(self) -> bool:
        """True when the gateway never answered (no KMS code): unreachable, or out of time."""
        return not self.code and self.status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _call_attr(err: grpc.RpcError, name: str, default: Any) -> Any:
    """``err.<name>()`` where the error is a call (code, details, trailing_metadata), else ``default``."""
    fn = getattr(err, name, None)
    return fn() if callable(fn) else default
