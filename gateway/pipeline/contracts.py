"""What the pipeline asks of a transport and of an error dialect.

A transport implements :class:`Exchange` once per wire format (one small object per request). An
error dialect is anything with ``render(KmsError) -> WireError``: the configured KMS dialect of
gateway/core/dialects.py, or a transport's own (e.g. ``{errorName, errorMessage}``). Metrics
reach the pipeline through ``RequestMetrics`` of gateway/core/ports/metrics.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.core.dialects import WireError
from gateway.core.errors import KmsError
from gateway.core.model import Caller


class ClientGone(Exception):
    """The client went away before its request arrived: there is nobody to answer and nothing to audit."""


class Exchange(Protocol):
    """One request as its transport sees it. The pipeline calls, in order and at most once each:
    :meth:`authenticate`, :meth:`decode`, :meth:`execute`; :meth:`audit_fields` whenever an
    audit line is written. Raise :class:`KmsError` for any refusal; never render an error."""

    request_id: str  # sent back to the client and written to the audit line

    async def authenticate(self) -> Caller:
        """Who is calling, from the credentials this wire format carries (token, signature, certificate)."""
        ...

    def decode(self) -> Any:
        """The request's body or message in its typed form (its ``sequence``, if any, is then checked)."""
        ...

    async def execute(self, caller: Caller, message: Any) -> Any:
        """Run the operation on the core and return the encoded answer the transport will send."""
        ...

    def audit_fields(self, message: Any) -> tuple[str, str | None]:
        """(key id, sequence) the audit line records; ``message`` is None when nothing was decoded."""
        ...


class ErrorDialect(Protocol):
    def render(self, exc: KmsError) -> WireError:
        """The error as this transport's clients see it: status, code, message."""
        ...


@dataclass(frozen=True)
class ErrorEnvelope:
    """How one HTTP transport writes an error no app of it raised: a request head the HTTP parser
    refused (malformed, too large, too slow). The HTTP listener asks the composition root which
    transport the head so far belongs to (gateway/app/http_apps.py), so that every client gets
    its own transport's error shape without the transports knowing of each other."""

    dialect: ErrorDialect
    body: Callable[[WireError], bytes]  # the transport's error document
    content_type: bytes
    request_id_header: bytes | None = None  # the header a fresh request id goes in, if the transport sends one

    def render(self, exc: KmsError) -> tuple[int, bytes]:
        """(status, body) of ``exc`` in this transport's shape."""
        wire = self.dialect.render(exc)
        return wire.status, self.body(wire)
