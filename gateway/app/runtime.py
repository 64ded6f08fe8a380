"""Wires the ports to their adapters: one place that builds what `serve` and the CLI use."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from gateway.app.config import Config
from gateway.app.first_start import ensure_own_keys
from gateway.app.store_wiring import open_store
from gateway.audit.key import open_audit_log
from gateway.audit.trail import AuditLog
from gateway.core import operations
from gateway.core.auth import Authenticator
from gateway.core.clock import Clock, SystemClock
from gateway.core.dialects import Dialect, get_dialect
from gateway.core.gate import RequestGate
from gateway.core.ports.store import MetadataStore
from gateway.core.service import Kms
from gateway.core.settings import Settings
from gateway.hsm.adapter import Pkcs11Hsm
from gateway.hsm.executor import HsmExecutor
from gateway.hsm.softhsm import ensure_softhsm
from gateway.hsm.token import TokenSession
from gateway.pipeline import Services
from gateway.telemetry import metrics
from gateway.telemetry.metrics import PrometheusMetrics


@dataclass
class Runtime:
    config: Config
    store: MetadataStore  # SqliteStore or PostgresStore (gateway/app/store_wiring.py)
    executor: HsmExecutor
    kms: Kms
    auth: Authenticator
    dialect: Dialect
    audit: AuditLog | None = None  # the request audit trail (gateway/audit/trail.py); None: not kept
    gate: RequestGate = field(default_factory=RequestGate)  # permission + rate limit per request
    # One per process: the executor's HSM figures and the transports' request figures go through it.
    prometheus: PrometheusMetrics = field(default_factory=PrometheusMetrics)

    @classmethod
    def open(
        cls,
        config: Config,
        clock: Clock | None = None,
        *,
        test_mode: bool = False,
        executor_type: type[HsmExecutor] = HsmExecutor,
    ) -> Runtime:
        """``test_mode`` and ``executor_type`` are the dev runtime's (gateway/app/devmode): fixed ids and
        credentials from a seed file, and an executor with a fault switch. `kmsgw serve` passes neither."""
        clock = clock or SystemClock()
        dialect = get_dialect(config.error_dialect)
        gate = RequestGate.from_config(config.limits)  # a bad [limits] table fails here, before the HSM opens
        if config.managed_softhsm:
            ensure_softhsm(config.data_dir, config.hsm.token_label)
        else:
            config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        conf = config.softhsm_conf_path()
        if conf is not None:
            os.environ["SOFTHSM2_CONF"] = str(conf.resolve())
        token = TokenSession(config.module_path(), config.hsm.token_label, config.read_pin())
        counts = PrometheusMetrics()
        window_s = config.hsm.batch_window_ms / 1000
        executor = executor_type(token, counts, max_batch=config.hsm.max_batch, window_s=window_s)
        executor.start()
        metrics.HSM_SESSIONS.set(1)
        try:
            store = open_store(config)  # SQLite or PostgreSQL, by config.store / --store
        except BaseException:  # e.g. StoreUnavailable: the caller reports it, the executor must not linger
            executor.stop()
            metrics.HSM_SESSIONS.set(0)
            raise
        hsm = Pkcs11Hsm(executor, config.mechanisms)  # vendor SM2/SM4 numbers: the adapter's table
        settings = Settings(
            cmk_quota=config.cmk_quota,
            grant_per_cmk_quota=config.grant_per_cmk_quota,
            software_oaep_unwrap=config.hsm.software_oaep_unwrap,
            key_cache_seconds=config.key_cache_seconds,
            orphan_grace_seconds=config.orphan_grace_seconds,
            provisioning_timeout_seconds=config.provisioning_timeout_seconds,
            test_mode=test_mode,
        )
        kms = Kms(store, hsm, clock, settings, metrics=counts)
        auth = Authenticator(store, hsm, clock, test_mode=test_mode)
        try:
            ensure_own_keys(store, executor.run_sync)  # once across processes and nodes on a fresh token
            audit = open_audit_log(config, executor.run_sync)
        except BaseException:  # e.g. the setup lease timed out, an unreadable audit key: nothing may linger
            executor.stop()
            metrics.HSM_SESSIONS.set(0)
            store.close()
            raise
        return cls(config, store, executor, kms, auth, dialect, audit=audit, gate=gate, prometheus=counts)

    @functools.cached_property
    def services(self) -> Services:
        """What every transport is handed: the core, the gate, the audit sink, metrics, health."""
        counts = self.prometheus
        counts.declare_requests([op.name for op in operations.KMS_API], ("rest", "grpc"))
        counts.declare_requests([operations.UNKNOWN.name], ("rest",))  # an unknown REST path
        if self.config.xks.enabled:  # the XKS endpoint's own operations, and its unknown paths
            xks_ops = [op.name for op in operations.CATALOG if op.transport == "xks"]
            counts.declare_requests([*xks_ops, operations.UNKNOWN.name], ("xks",))
        if self.config.aws.enabled or self.kms.settings.test_mode:  # the AWS KMS API's operations (docs/aws-kms.md)
            aws_ops = [op.name for op in operations.CATALOG if op.transport == "aws"]
            counts.declare_requests([*aws_ops, operations.UNKNOWN.name], ("aws",))
        return Services(
            kms=self.kms,
            auth=self.auth,
            clock=self.kms.clock,
            dialect=self.dialect,
            gate=self.gate,
            audit=self.audit,
            metrics=counts,
            health=lambda: self.executor.healthy,
            metrics_text=metrics.render,  # all workers' samples when multi-process
        )

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()
        self.executor.stop()
        metrics.HSM_SESSIONS.set(0)
        self.store.close()
