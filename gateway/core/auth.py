"""Callers' credentials (AK/SK) and bearer tokens.

Secret keys must be recoverable to check HMAC signatures, so they are sealed: encrypted
inside the token by the gateway's own non-extractable key and stored only as ciphertext.
Bearer tokens are random and stored as their SHA-256: a stolen database yields neither.

Each credential and token may carry a policy (the actions it may perform, see
``gateway.core.permissions``). Callers are cached in memory, but a cached policy is re-read
from the store as soon as ``store.generation`` moves (any committed write, here or — with a
shared store — elsewhere) and at least every :data:`POLICY_RECHECK_SECONDS`: a policy change
reaches a running server within that bound even when the generation misses it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time
from dataclasses import dataclass

from gateway.core import ciphertext as ct
from gateway.core import permissions
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.model import Caller
from gateway.core.ports.hsm import HsmPort, OpenItem, SealItem
from gateway.core.ports.store import CredentialRow, MetadataStore, TokenRow

SEAL_KEY_LABEL = "kmsgw:seal"
TOKEN_PREFIX = "kmsgw1."  # noqa: S105 - a format marker, not a secret
_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits
_CACHE_SECONDS = 300.0  # an unsealed secret stays in memory this long at most
POLICY_RECHECK_SECONDS = 5.0  # a cached caller (policy) is re-read from the store at least this often
_MAX_CACHED = 10_000
FIXED_ACCESS_KEY_RE = re.compile(r"^[A-Za-z0-9]{8,128}$")
FIXED_SECRET_KEY_RE = re.compile(r"^[!-~]{16,128}$")  # printable ASCII, no space
FIXED_USER_ID_RE = re.compile(r"^[a-zA-Z0-9]{1,64}$")  # what a grant's grantee_principal may name


@dataclass(frozen=True)
class FixedCredential:
    """An AK/SK pair (and user id) chosen by a seed file: test mode only (gateway/core/seeding.py)."""

    access_key: str
    secret_key: str
    user_id: str | None = None


def _hex_id() -> str:
    return secrets.token_hex(16)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _CachedSecret:
    expires: float  # monotonic: the unsealed secret is forgotten then
    secret: str
    caller: Caller
    generation: int  # store generation the caller (its policy) was read at
    recheck: float  # monotonic: the caller is re-read from the store then at the latest


@dataclass(frozen=True)
class _CachedToken:
    expires_at: int  # ms epoch: the token's own expiry
    caller: Caller
    generation: int
    recheck: float


@dataclass(frozen=True)
class _CachedCertificate:
    caller: Caller | None  # None: the certificate is bound to no credential
    generation: int
    recheck: float


class Authenticator:
    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock, *, test_mode: bool = False) -> None:
        self.store = store
        self.hsm = hsm
        self.clock = clock
        self.test_mode = test_mode  # fixed credentials allowed (the dev runtime only)
        self._secrets: dict[str, _CachedSecret] = {}  # by access key
        self._tokens: dict[str, _CachedToken] = {}  # by token digest
        self._certificates: dict[str, _CachedCertificate] = {}  # by certificate fingerprint

    async def setup(self) -> None:
        await self.hsm.ensure_aes_key(SEAL_KEY_LABEL)

    def _domain_for(self, project_id: str, domain_id: str | None) -> str:
        known = self.store.project_domain(project_id)
        if known and domain_id and known != domain_id:
            raise ValueError(f"project {project_id} belongs to domain {known}")
        domain = known or domain_id or _hex_id()
        self.store.put_project(project_id, domain)
        return domain

    @staticmethod
    def caller_of(row: CredentialRow) -> Caller:
        """The caller a credential row authenticates (its principal is the access key)."""
        return Caller(row.project_id, row.domain_id, row.user_id, row.access_key, row.allowed_actions)

    @staticmethod
    def caller_of_token(row: TokenRow) -> Caller:
        """The caller a bearer token authenticates (its principal is the token's user id)."""
        return Caller(row.project_id, row.domain_id, row.user_id, row.user_id, row.allowed_actions)

    async def create_credentials(
        self,
        project_id: str,
        domain_id: str | None = None,
        actions: frozenset[str] | None = None,
        *,
        fixed: FixedCredential | None = None,
    ) -> dict[str, object]:
        """A new AK/SK pair; ``fixed`` (a seed file's known pair) only in test mode, so no deployment
        can hold a guessable secret."""
        if fixed is not None:
            _check_fixed(fixed, self.test_mode)
        if actions is not None:
            actions = permissions.parse_actions(actions)
        domain = self._domain_for(project_id, domain_id)
        access_key = fixed.access_key if fixed else "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
        secret_key = fixed.secret_key if fixed else "".join(secrets.choice(_SK_ALPHABET) for _ in range(40))
        user_id = (fixed.user_id if fixed else None) or _hex_id()
        [(iv, body)] = await self.hsm.seal_many(SEAL_KEY_LABEL, [SealItem(secret_key.encode(), _seal_aad(access_key))])
        row = CredentialRow(access_key, iv + body, project_id, domain, user_id, actions)
        self.store.put_credential(row, ms(time.time()))
        return {
            "access_key": access_key,
            "secret_key": secret_key,
            "project_id": project_id,
            "domain_id": domain,
            "user_id": user_id,
            "allowed_actions": _policy_out(actions),
        }

    def set_credential_actions(self, access_key: str, actions: frozenset[str] | None) -> dict[str, object]:
        """Replace a credential's policy (None = every action); running servers see it within the bound."""
        if actions is not None:
            actions = permissions.parse_actions(actions)
        if not self.store.set_credential_actions(access_key, actions):
            raise ValueError(f"unknown access key: {access_key}")
        self._secrets.pop(access_key, None)
        return self.describe_credential(access_key)

    def describe_credential(self, access_key: str) -> dict[str, object]:
        """A credential's identity and policy, never its secret."""
        row = self.store.get_credential(access_key)
        if row is None:
            raise ValueError(f"unknown access key: {access_key}")
        return {
            "access_key": row.access_key,
            "project_id": row.project_id,
            "domain_id": row.domain_id,
            "user_id": row.user_id,
            "allowed_actions": _policy_out(row.allowed_actions),
        }

    def create_token(
        self,
        project_id: str,
        ttl_seconds: int = 86400,
        domain_id: str | None = None,
        user_id: str | None = None,
        actions: frozenset[str] | None = None,
    ) -> dict[str, object]:
        if ttl_seconds <= 0:
            raise ValueError("ttl must be positive")
        if actions is not None:
            actions = permissions.parse_actions(actions)
        domain = self._domain_for(project_id, domain_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = ms(self.clock.now() + ttl_seconds)
        user = user_id or _hex_id()
        self.store.put_token(_token_hash(token), TokenRow(project_id, domain, user, expires, actions))
        return {
            "token": token,
            "expires_at": expires,
            "project_id": project_id,
            "domain_id": domain,
            "user_id": user,
            "allowed_actions": _policy_out(actions),
        }

    def caller_from_token(self, token: str | None) -> Caller:
        if not token:
            raise KmsError(Err.TOKEN_MISSING)
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise KmsError(Err.TOKEN_INVALID)
        digest = _token_hash(token)
        now = time.monotonic()
        generation = self.store.generation
        hit = self._tokens.get(digest)
        if hit is None or hit.generation != generation or hit.recheck <= now:
            row = self.store.get_token(digest)
            if row is None:
                self._tokens.pop(digest, None)
                raise KmsError(Err.TOKEN_INVALID)
            if hit is None and len(self._tokens) >= _MAX_CACHED:
                self._tokens.clear()
            hit = _CachedToken(row.expires_at, self.caller_of_token(row), generation, now + POLICY_RECHECK_SECONDS)
            self._tokens[digest] = hit
        if ms(self.clock.now()) >= hit.expires_at:
            raise KmsError(Err.TOKEN_EXPIRED)
        return hit.caller

    async def secret_for(self, access_key: str) -> tuple[str, Caller]:
        """The unsealed secret of an access key and its caller.

        The secret stays in memory for :data:`_CACHE_SECONDS` at most; the caller (its policy) is
        re-read from the store when the store's generation moved or after POLICY_RECHECK_SECONDS.
        """
        now = time.monotonic()
        generation = self.store.generation
        hit = self._secrets.get(access_key)
        if hit is not None and hit.expires > now:
            if hit.generation == generation and hit.recheck > now:
                return hit.secret, hit.caller
            row = self.store.get_credential(access_key)
            if row is None:  # deleted: forget the secret too
                self._secrets.pop(access_key, None)
                raise KmsError(Err.SIGNATURE_INVALID, "Unknown access key.")
            hit.caller, hit.generation, hit.recheck = self.caller_of(row), generation, now + POLICY_RECHECK_SECONDS
            return hit.secret, hit.caller
        row = self.store.get_credential(access_key)
        if row is None:
            raise KmsError(Err.SIGNATURE_INVALID, "Unknown access key.")
        iv, body = row.sealed_secret[: ct.IV_BYTES], row.sealed_secret[ct.IV_BYTES :]
        [plain] = await self.hsm.open_many([OpenItem(SEAL_KEY_LABEL, iv, body, _seal_aad(access_key))])
        if plain is None:
            raise KmsError(Err.INTERNAL, "A stored credential does not unseal.")
        caller = self.caller_of(row)
        if access_key not in self._secrets and len(self._secrets) >= _MAX_CACHED:
            self._secrets.clear()
        recheck = now + POLICY_RECHECK_SECONDS
        self._secrets[access_key] = _CachedSecret(now + _CACHE_SECONDS, plain.decode(), caller, generation, recheck)
        return plain.decode(), caller

    # -- mTLS: client certificates bound to credentials (H3, docs/tls.md) ---------------------
    def caller_from_certificate(self, der: bytes) -> Caller | None:
        """The credential a verified client certificate is bound to (``kmsgw certificates bind``), or None.

        Looked up by the SHA-256 of the DER. Answers (None too) are cached like tokens' callers:
        re-read when ``store.generation`` moves and at least every POLICY_RECHECK_SECONDS, so an
        unbind or a policy change made by another process counts within that bound.
        """
        fingerprint = hashlib.sha256(der).hexdigest()
        now = time.monotonic()
        generation = self.store.generation
        cache = self._certificates
        hit = cache.get(fingerprint)
        if hit is None or hit.generation != generation or hit.recheck <= now:
            caller = None
            binding = self.store.get_certificate_binding(fingerprint)
            if binding is not None:
                row = self.store.get_credential(binding.access_key)
                caller = self.caller_of(row) if row is not None else None
            if hit is None and len(cache) >= _MAX_CACHED:
                cache.clear()
            hit = _CachedCertificate(caller, generation, now + POLICY_RECHECK_SECONDS)
            cache[fingerprint] = hit
        return hit.caller


def _policy_out(actions: frozenset[str] | None) -> list[str] | None:
    """A policy as the CLI prints it: sorted action names, or None for every action."""
    return None if actions is None else sorted(actions)


def _check_fixed(fixed: FixedCredential, test_mode: bool) -> None:
    if not test_mode:
        raise PermissionError("fixed credentials exist in test mode only (kmsgw dev, the pytest plugin)")
    if not FIXED_ACCESS_KEY_RE.fullmatch(fixed.access_key):
        raise ValueError("access_key must be 8-128 letters and digits")
    if not FIXED_SECRET_KEY_RE.fullmatch(fixed.secret_key):
        raise ValueError("secret_key must be 16-128 printable ASCII characters without spaces")
    if fixed.user_id is not None and not FIXED_USER_ID_RE.fullmatch(fixed.user_id):
        raise ValueError("user_id must be 1-64 letters and digits")


def _seal_aad(access_key: str) -> bytes:
    return b"kmsgw-credential:" + access_key.encode()
