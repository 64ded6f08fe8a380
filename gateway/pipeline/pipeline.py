"""The one request pipeline: authenticate -> admit -> decode -> run -> audit (fail closed) -> answer.

Every transport hands each request to :meth:`Pipeline.run` as an :class:`Exchange` and gets back
either the encoded answer its ``execute`` produced or a :class:`Failure` (the error rendered by
the transport's dialect) to encode. The rules written here, once:

* **Order.** Authentication first; then the gate (permission, then rate limit) before the body is
  decoded, so a refused request costs no more work; then the request's ``sequence`` is checked.
* **Fail-closed audit.** With an audit sink, every answer — success, refusal, bad input,
  authentication failure — is recorded *before* it is returned to the transport. If the sink
  cannot take the line, the answer becomes INTERNAL (and nothing else leaves). An unauthenticated
  request's body is never decoded, not even for its audit line; one refused by the gate right
  after authentication is decoded best-effort so its line names the key.
* **Metrics.** Latency per (operation, transport) on every answer; errors by the code answered.

Per-operation work (catalog lookups) is resolved once in :meth:`Pipeline.endpoint`; the metrics
adapter keeps one child per (operation, transport).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from gateway.core import validate
from gateway.core.errors import Err, Kind, KmsError
from gateway.core.model import Caller
from gateway.core.operations import Operation
from gateway.core.ports.audit import AuditEvent
from gateway.core.ratelimit import RateLimited
from gateway.pipeline.contracts import ClientGone, ErrorDialect, Exchange

if TYPE_CHECKING:
    from gateway.core.dialects import WireError
    from gateway.pipeline.services import Services

log = logging.getLogger(__name__)

# How far a request got: what its audit line may hold and whether a refusal may decode it.
_AUTHENTICATING, _ADMITTING, _DECODING, _RUNNING = range(4)


class Endpoint:
    """One operation as a transport serves it, resolved once at start-up."""

    __slots__ = ("action", "name", "operation")

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self.name = operation.name
        self.action = operation.action


class Failure:
    """A request's error as its transport must send it (already audited and counted)."""

    __slots__ = ("error", "wire")

    def __init__(self, error: KmsError, wire: WireError) -> None:
        self.error = error  # its kind chooses e.g. the gRPC status
        self.wire = wire  # status, code and message in the transport's dialect

    @property
    def retry_after(self) -> int | None:
        """Whole seconds a rate-limited client should wait (None for any other error)."""
        return self.error.retry_after if isinstance(self.error, RateLimited) else None


class Pipeline:
    """The request pipeline of one transport (its name and its error dialect)."""

    def __init__(self, services: Services, transport: str, dialect: ErrorDialect | None = None) -> None:
        self.transport = transport
        self._own_dialect = dialect
        self._services = services  # its audit sink (and dialect) are read when needed: they may be swapped
        self._gate = services.gate
        self._metrics = services.metrics
        self._log_extra = {"transport": transport}

    @property
    def dialect(self) -> ErrorDialect:
        """The transport's own error dialect, else the configured KMS one."""
        return self._own_dialect or self._services.dialect

    def endpoint(self, operation: Operation) -> Endpoint:
        """The handle a transport keeps per operation it serves (build these at start-up)."""
        return Endpoint(operation)

    async def run(self, ep: Endpoint, exchange: Exchange) -> Any:
        """The answer ``exchange.execute`` encoded, or a :class:`Failure`; raises only ClientGone."""
        start = time.perf_counter()
        stage = _AUTHENTICATING
        caller: Caller | None = None
        message: Any = None
        try:
            caller = await exchange.authenticate()
            stage = _ADMITTING
            self._gate.admit(caller, ep.name)
            stage = _DECODING
            message = exchange.decode()
            stage = _RUNNING
            validate.sequence(getattr(message, "sequence", None))
            answer = await exchange.execute(caller, message)
            sink = self._services.audit
            if sink is not None:
                try:
                    sink.record(self._event(ep, exchange, caller, message, "OK"))
                except Exception:  # fail closed: this answer must not leave without its line
                    log.exception("audit write failed", extra={"op": ep.name, **self._log_extra})
                    internal = KmsError(Err.INTERNAL)
                    return self._count(ep, internal, self.dialect.render(internal))
            return answer
        except KmsError as exc:
            return self._fail(ep, exchange, exc, stage, caller, message)
        except ClientGone:
            raise
        except Exception:
            log.exception("unhandled error", extra={"op": ep.name, **self._log_extra})
            return self._fail(ep, exchange, KmsError(Err.INTERNAL), stage, caller, message)
        finally:
            self._metrics.request_seconds(ep.name, self.transport, time.perf_counter() - start)

    def refuse(self, ep: Endpoint, exchange: Exchange, exc: KmsError) -> Failure:
        """Answer a request refused before it reached an operation (e.g. an unknown path):
        audited and counted like any failure, unauthenticated, nothing decoded."""
        start = time.perf_counter()
        try:
            return self._fail(ep, exchange, exc, _AUTHENTICATING, None, None)
        finally:
            self._metrics.request_seconds(ep.name, self.transport, time.perf_counter() - start)

    # -- the error path ------------------------------------------------------------------------
    def _fail(
        self, ep: Endpoint, exchange: Exchange, exc: KmsError, stage: int, caller: Caller | None, message: Any
    ) -> Failure:
        wire = self.dialect.render(exc)
        sink = self._services.audit
        if sink is not None:
            if stage == _ADMITTING:  # refused by the gate: the line should still name the key
                message = _decode_quietly(exchange)
            try:
                sink.record(self._event(ep, exchange, caller, message, wire.code))
            except Exception:  # the error is answered anyway; a fault of the trail itself is INTERNAL
                log.exception("audit write failed", extra={"op": ep.name, **self._log_extra})
                exc = KmsError(Err.INTERNAL)
                wire = self.dialect.render(exc)
        return self._count(ep, exc, wire)

    def _count(self, ep: Endpoint, exc: KmsError, wire: WireError) -> Failure:
        self._metrics.request_error(ep.name, self.transport, wire.code)
        if exc.err.kind is Kind.INTERNAL:
            log.error("request failed", extra={"op": ep.name, "code": wire.code, **self._log_extra})
        return Failure(exc, wire)

    def _event(self, ep: Endpoint, exchange: Exchange, caller: Caller | None, message: Any, result: str) -> AuditEvent:
        key_id, sequence = exchange.audit_fields(message)
        return AuditEvent(
            transport=self.transport,
            op=ep.name,
            action=ep.action,
            principal=caller.principal if caller is not None else "",
            project_id=caller.project_id if caller is not None else "",
            key_id=key_id,
            result=result,
            request_id=exchange.request_id,
            sequence=sequence,
        )


def _decode_quietly(exchange: Exchange) -> Any:
    """The decoded request for an audit line, or None when it does not decode (best effort)."""
    try:
        return exchange.decode()
    except Exception:
        return None
