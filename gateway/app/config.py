"""Configuration: embedded defaults, an optional TOML file, then command-line overrides.

The HSM PIN is never a config value: the file names where to read it (a 0600 file or an
environment variable), so it stays out of argv, config dumps and logs.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gateway.hsm.mechanisms import build_table
from gateway.hsm.softhsm import DEFAULT_TOKEN_LABEL, find_softhsm_module
from gateway.secret_files import read_secret


@dataclass
class HsmConfig:
    module: str = ""  # PKCS#11 module path; empty: SoftHSM2 from the data dir
    token_label: str = DEFAULT_TOKEN_LABEL
    pin_file: str = ""  # default <data-dir>/hsm.pin
    pin_env: str = ""  # alternative: name of an environment variable holding the PIN
    softhsm_conf: str = ""  # exported as SOFTHSM2_CONF when set (default: the data dir's)
    max_batch: int = 256  # jobs drained per executor wake-up
    batch_window_ms: float = 0.0  # wait this long for more jobs before running a batch
    # BYOK: decode OAEP in the gateway when the token's C_UnwrapKey lacks the hash (SoftHSM2 and
    # RSAES_OAEP_SHA_256); the imported material then passes through gateway memory.
    software_oaep_unwrap: bool = False


@dataclass
class AuditConfig:
    """[audit]: the hash-chained request audit trail (docs/audit.md)."""

    enabled: bool = True
    path: str = ""  # default <data-dir>/audit.jsonl
    fsync: str = "interval"  # "always" (before each response) | "interval" | "never" (the OS decides)
    fsync_interval_s: float = 1.0


@dataclass
class TlsConfig:
    """[tls]: one switch for both listeners (docs/tls.md); on when cert_file is set."""

    cert_file: str = ""  # PEM: the server certificate (then any intermediates)
    key_file: str = ""  # PEM private key, mode 0600 (refused otherwise)
    client_ca_file: str = ""  # PEM CA bundle that signs client certificates (needed unless client_auth = "none")
    client_auth: str = "none"  # "none" | "optional" | "required" (gRPC: optional acts as none, see docs/tls.md)

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file or self.key_file)


@dataclass
class LimitsConfig:
    """[limits]: token buckets per (principal, operation), per process (docs/permissions-and-limits.md)."""

    rate: float = 0.0  # requests/s of each (principal, operation) pair; 0 = unlimited (the default)
    burst: float = 0.0  # bucket size; 0 = one second's worth (ceil(rate), at least 1)
    operations: dict = field(default_factory=dict)  # [limits.operations] name/action -> {rate, burst}
    principals: dict = field(default_factory=dict)  # [limits.principals] access key/user id -> {rate, burst}
    max_buckets: int = 100_000  # memory bound: idle buckets are dropped beyond this


@dataclass
class PostgresConfig:
    """[postgres]: connection pool and password of a postgresql:// store (docs/postgres.md)."""

    password_file: str = ""  # a 0600 file holding the password (or use libpq's PGPASSFILE / ~/.pgpass)
    pool_min_size: int = 1  # connections kept open per process (each `serve` worker has its own pool)
    pool_max_size: int = 4
    pool_timeout_s: float = 10.0  # wait for a free connection (and for the database at start-up)


@dataclass
class HttpConfig:
    """[http]: limits of the REST listener's connections (docs/testing.md, slowloris)."""

    max_connections: int = 0  # open connections per process; 0: half the open-file limit (raised to the hard one)


@dataclass
class ServeConfig:
    """[serve]: how the listeners share a worker's event loops and processes (gateway/app/serving.py)."""

    model: str = "split"  # "split" | "shared" (or `kmsgw serve --serving-model`)
    switch_interval_ms: float = 0.0  # the interpreter's GIL switch interval; 0: its own (5 ms)


@dataclass
class XksConfig:
    """[xks]: the AWS KMS External Key Store proxy API, on the HTTP listener or its own (docs/xks.md)."""

    enabled: bool = False  # or `kmsgw serve --xks`
    listen: str = ""  # HOST:PORT of a listener of its own (workers of its own under split); "": the HTTP one
    regions: list = field(default_factory=list)  # SigV4 scope regions accepted; empty: any
    max_clock_skew_s: float = 300.0  # X-Amz-Date this far from the server clock at most
    health_cache_s: float = 5.0  # a passed deep health check is reused this long (0-60)
    fleet_size: int = 1  # xksProxyFleetSize: gateway nodes behind this endpoint
    client_cert_cn: list | str = ""  # subject CN(s) a client certificate must have; "": no check
    hsm_start_timeout_ms: float = 200.0  # a token job not started by then: 503 DependencyTimeoutException; 0: none
    log_requests: bool = True  # one log line per request (kmsRequestId, kmsOperation, ARNs, result)


@dataclass
class AwsConfig:
    """[aws]: the AWS KMS API (AWS JSON 1.1, X-Amz-Target) on the HTTP listener (docs/aws-kms.md)."""

    enabled: bool = False  # or `kmsgw serve --aws`; always on in `kmsgw dev`
    max_clock_skew_s: float = 300.0  # X-Amz-Date this far from the server clock at most (AWS: 5 minutes)
    hsm_start_timeout_ms: float = 2000.0  # a token job not started by then: 503 DependencyTimeoutException; 0: none


@dataclass
class Config:
    data_dir: Path = Path("var")
    grpc_listen: str = "127.0.0.1:50051"
    rest_listen: str = "127.0.0.1:8080"
    sqlite_path: str = ""  # default <data-dir>/kms.db
    store: str = ""  # metadata store URL: sqlite:///abs/path, sqlite:relative-to-data-dir, postgresql://...
    cmk_quota: int = 100
    grant_per_cmk_quota: int = 100
    error_dialect: str = "primary"
    log_level: str = "INFO"
    sweep_interval_s: float = 60.0
    drain_seconds: float = 10.0
    workers: int = 0  # processes for `serve`; 0: one per CPU core
    key_cache_seconds: float = 1.0  # key-row reuse by crypto calls; backstop behind store.generation
    orphan_grace_seconds: float = 3600.0  # token objects no row knows are destroyed this long after first seen
    provisioning_timeout_seconds: float = 300.0  # a create/rotation in flight longer than this is a crash's leftover
    hsm: HsmConfig = field(default_factory=HsmConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    postgres: PostgresConfig = field(default_factory=PostgresConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    xks: XksConfig = field(default_factory=XksConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    # [mechanisms.<KEY_SPEC>]: vendor mechanism numbers for SM2/SM4 (docs/asymmetric.md)
    mechanisms: dict = field(default_factory=dict)

    @property
    def managed_softhsm(self) -> bool:
        """True when the gateway owns a SoftHSM2 token in its data dir."""
        return not self.hsm.module

    def audit_path(self) -> Path:
        return Path(self.audit.path) if self.audit.path else self.data_dir / "audit.jsonl"

    def db_path(self) -> Path:
        return Path(self.sqlite_path) if self.sqlite_path else self.data_dir / "kms.db"

    def module_path(self) -> str:
        return self.hsm.module or find_softhsm_module()

    def softhsm_conf_path(self) -> Path | None:
        if self.hsm.softhsm_conf:
            return Path(self.hsm.softhsm_conf)
        return self.data_dir / "softhsm2.conf" if self.managed_softhsm else None

    def read_pin(self) -> str:
        if self.hsm.pin_env:
            pin = os.environ.get(self.hsm.pin_env)
            if not pin:
                raise ValueError(f"environment variable {self.hsm.pin_env} is empty")
            return pin
        return read_secret(Path(self.hsm.pin_file) if self.hsm.pin_file else self.data_dir / "hsm.pin")


def load(path: str | None = None, **overrides: object) -> Config:
    cfg = Config()
    if path:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        base = Path(path).resolve().parent
        for key, value in raw.get("gateway", {}).items():
            _set(cfg, key, value)
        for section in _SECTIONS:
            for key, value in raw.get(section, {}).items():
                _set(getattr(cfg, section), key, value)
        cfg.mechanisms.update(raw.get("mechanisms", {}))
        if not Path(cfg.data_dir).is_absolute():
            cfg.data_dir = base / cfg.data_dir
        for name in ("cert_file", "key_file", "client_ca_file"):  # [tls] files: relative to this file too
            value = getattr(cfg.tls, name)
            if value and not Path(value).is_absolute():
                setattr(cfg.tls, name, str(base / value))
        if cfg.audit.path and not Path(cfg.audit.path).is_absolute():  # [audit] path: relative to this file too
            cfg.audit.path = str(base / cfg.audit.path)
        if cfg.postgres.password_file and not Path(cfg.postgres.password_file).is_absolute():
            cfg.postgres.password_file = str(base / cfg.postgres.password_file)
    for key, value in overrides.items():
        if value is not None:
            _set(cfg, key, value)
    cfg.data_dir = Path(cfg.data_dir)
    build_table(cfg.mechanisms)  # a bad mechanism table fails here, at start-up
    return cfg


# Tables of the TOML file that fill a nested section of Config (each a dataclass field of that name).
_SECTIONS = ("hsm", "tls", "audit", "limits", "postgres", "http", "xks", "serve", "aws")


def _set(obj: object, key: str, value: object) -> None:
    if not hasattr(obj, key) or key in _SECTIONS:
        raise ValueError(f"unknown configuration key: {key}")
    if key == "data_dir":
        value = Path(str(value))
    setattr(obj, key, value)
