"""Configuration: embedded defaults, an optional TOML file, then command-line overrides.

The HSM PIN is never a config value: the file names where to read it (a 0600 file or an
environment variable), so it stays out of argv, config dumps and logs.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gateway.bootstrap import DEFAULT_TOKEN_LABEL, find_softhsm_module, read_secret
from gateway.hsm.mechanisms import build_table


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
class Config:
    data_dir: Path = Path("var")
    grpc_listen: str = "127.0.0.1:50051"
    rest_listen: str = "127.0.0.1:8080"
    sqlite_path: str = ""  # default <data-dir>/kms.db
    cmk_quota: int = 100
    grant_per_cmk_quota: int = 100
    error_dialect: str = "primary"
    log_level: str = "INFO"
    sweep_interval_s: float = 60.0
    drain_seconds: float = 10.0
    workers: int = 0  # processes for `serve`; 0: one per CPU core
    key_cache_seconds: float = 1.0  # reuse of a key row by crypto calls; other workers' changes lag this much
    hsm: HsmConfig = field(default_factory=HsmConfig)
    # [mechanisms.<KEY_SPEC>]: vendor mechanism numbers for SM2/SM4 (docs/asymmetric.md)
    mechanisms: dict = field(default_factory=dict)

    @property
    def managed_softhsm(self) -> bool:
        """True when the gateway owns a SoftHSM2 token in its data dir."""
        return not self.hsm.module

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
    for key, value in overrides.items():
        if value is not None:
            _set(cfg, key, value)
    cfg.data_dir = Path(cfg.data_dir)
    build_table(cfg.mechanisms)  # a bad mechanism table fails here, at start-up
    return cfg


# Tables of the TOML file that fill a nested section of Config (each a dataclass field of that name).
_SECTIONS = ("hsm",)


def _set(obj: object, key: str, value: object) -> None:
    if not hasattr(obj, key) or key in _SECTIONS:
        raise ValueError(f"unknown configuration key: {key}")
    if key == "data_dir":
        value = Path(str(value))
    setattr(obj, key, value)
