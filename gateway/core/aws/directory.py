"""Who calls the AWS API, and the AWS rows the hot path reads: cached, re-read when the store moves.

Every cached answer is reused only while ``store.generation`` has not moved and for at most
:data:`RECHECK_SECONDS` (a change another process missed telling us). An access key's secret is
unsealed by the token once and kept in memory for :data:`SECRET_SECONDS` at most, like a REST
secret key (gateway/core/auth.py), under its own AAD so the kinds of sealed secret cannot be swapped.

Test mode (`kmsgw dev`, the pytest plugin; never `kmsgw serve`) also knows the emulators' well-known
credentials, so a suite written for moto or LocalStack runs unchanged: ``FOOBARKEY``/``FOOBARSECRET``
(account 123456789012) and ``test``/``test`` (account 000000000000), each its account's root.
"""

from __future__ import annotations

import functools
import secrets
import string
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.core import ciphertext as ct
from gateway.core.auth import POLICY_RECHECK_SECONDS, SEAL_KEY_LABEL
from gateway.core.aws import names
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.fresh_cache import FreshCache
from gateway.core.model import Caller
from gateway.core.ports.hsm import HsmPort, OpenItem, SealItem
from gateway.core.ports.store import AwsAccountRow, AwsAliasRow, AwsCredentialRow, AwsKeyRow, MetadataStore

RECHECK_SECONDS = POLICY_RECHECK_SECONDS
SECRET_SECONDS = 300.0
_MAX_CACHED = 10_000
TEST_CREDENTIALS = {"FOOBARKEY": ("FOOBARSECRET", "123456789012"), "test": ("test", "000000000000")}
_AK_ALPHABET = string.ascii_uppercase + string.digits

V = TypeVar("V")


@dataclass(frozen=True)
class AwsIdentity:
    """One authenticated request's principal: its access key, account, region (the SigV4 scope's),
    principal ARN and the actions its credential allows (None: all), and the account's project."""

    access_key_id: str
    account_id: str
    region: str
    principal_arn: str
    project_id: str
    domain_id: str
    allowed_actions: frozenset[str] | None

    def allows(self, action: str) -> bool:
        """The credential's own permission list (what an IAM policy is on AWS)."""
        return self.allowed_actions is None or action in self.allowed_actions or "kms:*" in self.allowed_actions

    @functools.cached_property
    def caller(self) -> Caller:
        """The gateway caller this identity is on the audit line and to the rate limits."""
        return Caller(self.project_id, self.domain_id, self.access_key_id, self.access_key_id, None)


def seal_aad(access_key_id: str) -> bytes:
    return b"kmsgw-aws-credential:" + access_key_id.encode()


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_AK_ALPHABET) for _ in range(16))


@dataclass
class _Entry(Generic[V]):
    value: V
    generation: int
    recheck: float


@dataclass
class _Secret:
    secret: str
    row: AwsCredentialRow
    generation: int
    recheck: float
    expires: float


class AwsDirectory:
    def __init__(self, store: MetadataStore, hsm: HsmPort, clock: Clock, *, test_mode: bool = False) -> None:
        self._store = store
        self._hsm = hsm
        self._clock = clock
        self.test_mode = test_mode
        self._secrets: dict[str, _Secret] = {}
        self._accounts: FreshCache[str, AwsAccountRow | None] = FreshCache(store, RECHECK_SECONDS)
        self._keys: FreshCache[str, AwsKeyRow | None] = FreshCache(store, RECHECK_SECONDS)
        self._domains: FreshCache[str, str] = FreshCache(store, RECHECK_SECONDS)
        self._aliases: FreshCache[tuple[str, str, str], AwsAliasRow | None] = FreshCache(store, RECHECK_SECONDS)
        self._identities: dict[tuple[str, str], _Entry[tuple[AwsCredentialRow, AwsIdentity]]] = {}

    # -- credentials ------------------------------------------------------------------------
    async def credential(self, access_key_id: str) -> tuple[str, AwsCredentialRow] | None:
        """The secret of an access key and its row; None when no such key exists."""
        if self.test_mode and access_key_id in TEST_CREDENTIALS:
            secret, account = TEST_CREDENTIALS[access_key_id]
            return secret, AwsCredentialRow(access_key_id, account, "", b"", None, 0)
        now = time.monotonic()
        generation = self._store.generation
        hit = self._secrets.get(access_key_id)
        if hit is not None and hit.expires > now and hit.generation == generation and hit.recheck > now:
            return hit.secret, hit.row
        row = self._store.get_aws_credential(access_key_id)
        if row is None:
            self._secrets.pop(access_key_id, None)
            return None
        if hit is not None and hit.expires > now and hit.row.sealed_secret == row.sealed_secret:
            secret, expires = hit.secret, hit.expires
        else:
            secret, expires = await self._unseal(row), now + SECRET_SECONDS
        if hit is None and len(self._secrets) >= _MAX_CACHED:
            self._secrets.clear()
        self._secrets[access_key_id] = _Secret(secret, row, generation, now + RECHECK_SECONDS, expires)
        return secret, row

    def identity(self, row: AwsCredentialRow, region: str) -> AwsIdentity:
        """The principal of a credential in a region; kept while the credential row, the store's
        generation and the recheck deadline hold (the row's account and project cannot change
        without the generation moving)."""
        now = time.monotonic()
        generation = self._store.generation
        hit = self._identities.get((row.access_key_id, region))
        if (
            hit is not None
            and hit.generation == generation
            and hit.recheck > now
            and (hit.value[0] is row or hit.value[0] == row)
        ):
            return hit.value[1]
        who = self._identity(row, region)
        if hit is None and len(self._identities) >= _MAX_CACHED:
            self._identities.clear()
        self._identities[(row.access_key_id, region)] = _Entry((row, who), generation, now + RECHECK_SECONDS)
        return who

    def _identity(self, row: AwsCredentialRow, region: str) -> AwsIdentity:
        account = self.account(row.account_id)
        principal = names.user_arn(row.account_id, row.user_name) if row.user_name else names.root_arn(row.account_id)
        domain = self.domain_of(account.project_id)
        return AwsIdentity(
            row.access_key_id, row.account_id, region, principal, account.project_id, domain, row.allowed_actions
        )

    async def _unseal(self, row: AwsCredentialRow) -> str:
        iv, body = row.sealed_secret[: ct.IV_BYTES], row.sealed_secret[ct.IV_BYTES :]
        [plain] = await self._hsm.open_many([OpenItem(SEAL_KEY_LABEL, iv, body, seal_aad(row.access_key_id))])
        if plain is None:
            raise KmsError(Err.INTERNAL, "A stored AWS credential does not unseal.")
        return plain.decode()

    async def create_credential(
        self, account_id: str, project_id: str | None, user_name: str | None, actions: frozenset[str] | None
    ) -> dict[str, object]:
        """A new access key of an account (the CLI's ``kmsgw aws credentials create``); the secret is
        answered this once and stored only sealed by the token."""
        names.check_account(account_id)
        account = self._store.put_aws_account(
            AwsAccountRow(account_id, project_id or names.default_project(account_id), self._now())
        )
        if project_id and account.project_id != project_id:
            raise ValueError(f"account {account_id} already maps to project {account.project_id}")
        self.domain_of(account.project_id)
        secret = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
        for _ in range(5):
            access_key_id = new_access_key_id()
            [(iv, body)] = await self._hsm.seal_many(
                SEAL_KEY_LABEL, [SealItem(secret.encode(), seal_aad(access_key_id))]
            )
            user = user_name or access_key_id
            row = AwsCredentialRow(access_key_id, account_id, user, iv + body, actions, self._now())
            if self._store.put_aws_credential(row):
                return {
                    "AccessKeyId": access_key_id,
                    "SecretAccessKey": secret,
                    "AccountId": account_id,
                    "Arn": names.user_arn(account_id, user),
                    "ProjectId": account.project_id,
                    "AllowedActions": None if actions is None else sorted(actions),
                }
        raise ValueError("could not draw an unused access key id; retry")

    # -- accounts, domains, key rows --------------------------------------------------------
    def account(self, account_id: str) -> AwsAccountRow:
        """An account's row; an account first seen through a test credential gets its default project."""
        entry = self._accounts.get(account_id, lambda: self._store.get_aws_account(account_id))
        if entry is None:
            entry = self._store.put_aws_account(
                AwsAccountRow(account_id, names.default_project(account_id), self._now())
            )
        return entry

    def domain_of(self, project_id: str) -> str:
        def load() -> str:
            domain = self._store.project_domain(project_id)
            if not domain:
                domain = secrets.token_hex(16)
                self._store.put_project(project_id, domain)
            return domain

        return self._domains.get(project_id, load)

    def key_row(self, key_id: str) -> AwsKeyRow | None:
        return self._keys.get(key_id, lambda: self._store.get_aws_key(key_id))

    def alias(self, account_id: str, region: str, alias_name: str) -> AwsAliasRow | None:
        """An alias row, as the hot path reads it (an SDK often names its key by alias)."""
        where = (account_id, region, alias_name)
        return self._aliases.get(where, lambda: self._store.get_aws_alias(*where))

    def _now(self) -> int:
        return ms(self._clock.now())
