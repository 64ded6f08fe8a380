"""The AWS KMS External Key Store (XKS) proxy as part of the service core.

A *keystore* is a URI path prefix bound to one project; it holds SigV4 *credentials* (secrets
sealed by the token) and *key mappings* (external key id -> one of the project's AES-256 keys,
with the usage the mapping allows). :class:`XksService` is what the XKS transport is handed:

* ``directory`` (directory.py) — keystores, credentials and mappings, cached by store generation;
* ``crypto`` (crypto.py) — GetKeyMetadata, Encrypt, Decrypt, with the checks in their order;
* ``health`` (health.py) — GetHealthStatus's deep check of the token, cached;
* ``admin`` (admin.py) — what ``kmsgw xks`` does.

The specification's names (errors.py, names.py) live here too: the core raises the errors no
general meaning covers, and the transport's dialect names every other one.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.clock import Clock
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller
from gateway.core.ports.hsm import HsmPort
from gateway.core.ports.store import MetadataStore, XksKeystoreRow
from gateway.core.xks.admin import XksAdmin
from gateway.core.xks.crypto import XksCiphertext, XksCrypto, XksKeyMetadata
from gateway.core.xks.directory import XksDirectory
from gateway.core.xks.errors import STATUS, XksError, XksName
from gateway.core.xks.health import HEALTH_KEY_LABEL, HealthReport, XksHealth

__all__ = [
    "HEALTH_KEY_LABEL",
    "STATUS",
    "HealthReport",
    "XksAdmin",
    "XksCiphertext",
    "XksError",
    "XksKeyMetadata",
    "XksName",
    "XksService",
    "XksSettings",
]


@dataclass(frozen=True)
class XksSettings:
    fleet_size: int = 1  # xksProxyFleetSize: the gateway nodes serving this endpoint
    health_cache_s: float = 5.0  # a passed deep check is reused this long (at most 60)
    hsm_start_timeout_s: float | None = 0.2  # a token job not started by then: DependencyTimeoutException
    proxy_vendor: str = "kmsgw"
    proxy_model: str = "kmsgw XKS proxy"


class XksService:
    def __init__(
        self, store: MetadataStore, hsm: HsmPort, keys: KeyAccess, clock: Clock, settings: XksSettings | None = None
    ) -> None:
        self.settings = settings = settings or XksSettings()
        self.directory = XksDirectory(store, hsm)
        self.crypto = XksCrypto(hsm, keys, self.directory, settings.hsm_start_timeout_s)
        self.health = XksHealth(
            hsm, settings.health_cache_s, settings.fleet_size, settings.proxy_vendor, settings.proxy_model
        )
        self.admin = XksAdmin(store, hsm, clock)
        self.keystore = self.directory.keystore
        self.credential = self.directory.credential
        self.get_key_metadata = self.crypto.get_key_metadata
        self.encrypt = self.crypto.encrypt
        self.decrypt = self.crypto.decrypt
        self.health_report = self.health.report

    def caller(self, keystore: XksKeystoreRow, access_key_id: str) -> Caller:
        """Who an authenticated XKS request acts as: its keystore's project, named by its access key
        id (the audit line's principal and the rate limit's key). No policy: a keystore credential
        may call every XKS operation; what each key allows is its mapping's usage."""
        project = keystore.project_id
        return Caller(project, self.directory.domain_of(project), access_key_id, access_key_id, None)
