"""The request a policy is evaluated for, and the condition keys it answers.

Condition key names are case-insensitive (the parser lowers them). The values:

* ``kms:CallerAccount``, ``aws:PrincipalAccount`` — the caller's account;
* ``aws:PrincipalArn`` (a session reports its role), ``aws:PrincipalType``, ``aws:username`` (IAM users);
* ``kms:EncryptionContext:<key>`` — the value of the context pair whose key equals ``<key>`` ignoring
  case, as AWS documents; ``kms:EncryptionContextKeys`` — the context's keys, a multivalued key,
  absent when the context is missing or empty;
* ``aws:CurrentTime``, ``aws:EpochTime``, ``aws:SourceIp``, ``aws:SecureTransport`` when given;
* anything in ``PolicyRequest.extra`` (``kms:KeySpec``, ``kms:GrantOperations``, ...).

Every other key is absent, so a condition on it is false, except where AWS says otherwise
(negated operators, ``...IfExists``, ``ForAllValues``, ``Null``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType

from gateway.core.keypolicy.principals import Caller, caller

ContextValue = str | bool | int | Sequence[str]
_EMPTY: Mapping[str, ContextValue] = MappingProxyType({})
_EC_PREFIX = "kms:encryptioncontext:"


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    principal_arn: str
    """The caller: ``arn:aws:iam::ACCT:user/NAME``, ``...:root``, ``arn:aws:sts::ACCT:assumed-role/R/S``."""
    account_id: str
    """The caller's account (kms:CallerAccount)."""
    action: str
    """``kms:Encrypt``; compared without regard to case."""
    resource_arn: str | None
    """The key ARN; None only before the key exists (the lock-out check), when Resource is not checked."""
    encryption_context: Mapping[str, str] | None = None
    """The request's encryption context; for CreateGrant, the one in the grant's constraint (as AWS does)."""
    source_ip: str | None = None
    secure_transport: bool | None = None
    current_time: datetime | None = None
    """aws:CurrentTime / aws:EpochTime; the wall clock when None."""
    extra: Mapping[str, ContextValue] = field(default_factory=lambda: _EMPTY)
    """More condition keys the transport knows (case-insensitive names): kms:KeySpec, kms:ViaService..."""


def _text(value: ContextValue) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, (str, int)):
        return (str(value),)
    return tuple(value)


class RequestContext:
    """A request's condition-key values, each worked out only when a condition asks for it."""

    __slots__ = ("_context", "_extra", "_now", "caller", "request")

    def __init__(self, request: PolicyRequest, who: Caller | None = None) -> None:
        self.request = request
        self.caller: Caller = who or caller(request.principal_arn, request.account_id)
        self._context: dict[str, tuple[str, ...]] | None = None
        self._extra: dict[str, tuple[str, ...]] | None = None
        self._now: datetime | None = request.current_time

    def values(self, key: str) -> tuple[str, ...] | None:
        """The values of a lower-case key; None when the request does not have it."""
        return resolver(key)(self)

    def single(self, key: str) -> str | None:
        """A single-valued key's value, for a policy variable (a multivalued key is not one)."""
        if key == "kms:encryptioncontextkeys":
            return None
        found = resolver(key)(self)
        return found[0] if found and len(found) == 1 else None

    def now(self) -> datetime:
        if self._now is None:
            self._now = datetime.now(UTC)
        return self._now

    def context_value(self, name: str) -> tuple[str, ...] | None:
        """kms:EncryptionContext:<name>: the pairs whose key is ``name`` ignoring case (normally one)."""
        folded = self._context
        if folded is None:
            folded = {}
            for k, v in (self.request.encryption_context or {}).items():
                folded[k.lower()] = (*folded.get(k.lower(), ()), v)
            self._context = folded
        return folded.get(name)

    def extra_value(self, key: str) -> tuple[str, ...] | None:
        if not self.request.extra:
            return None
        if self._extra is None:
            self._extra = {k.lower(): _text(v) for k, v in self.request.extra.items()}
        return self._extra.get(key) or None


Resolver = Callable[[RequestContext], "tuple[str, ...] | None"]


def _context_keys(ctx: RequestContext) -> tuple[str, ...] | None:
    ec = ctx.request.encryption_context
    return tuple(ec) if ec else None


def _username(ctx: RequestContext) -> tuple[str, ...] | None:
    return (ctx.caller.name,) if ctx.caller.kind == "user" else None


def _principal_type(ctx: RequestContext) -> tuple[str, ...] | None:
    kind = ctx.caller.principal_type
    return (kind,) if kind else None


def _secure_transport(ctx: RequestContext) -> tuple[str, ...] | None:
    secure = ctx.request.secure_transport
    return None if secure is None else _text(secure)


_RESOLVERS: dict[str, Resolver] = {
    "kms:calleraccount": lambda ctx: (ctx.request.account_id,),
    "aws:principalaccount": lambda ctx: (ctx.request.account_id,),
    "kms:encryptioncontextkeys": _context_keys,
    "aws:principalarn": lambda ctx: (ctx.caller.principal_arn,),
    "aws:principaltype": _principal_type,
    "aws:username": _username,
    "aws:currenttime": lambda ctx: (ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ"),),
    "aws:epochtime": lambda ctx: (str(int(ctx.now().timestamp())),),
    "aws:sourceip": lambda ctx: (ctx.request.source_ip,) if ctx.request.source_ip else None,
    "aws:securetransport": _secure_transport,
}


@lru_cache(maxsize=1024)
def resolver(key: str) -> Resolver:
    """How to read a lower-case condition key from a request (chosen once per key, when parsing)."""
    if key.startswith(_EC_PREFIX):
        name = key[len(_EC_PREFIX) :]
        return lambda ctx: ctx.context_value(name)
    return _RESOLVERS.get(key) or (lambda ctx: ctx.extra_value(key))
