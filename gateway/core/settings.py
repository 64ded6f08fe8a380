"""The core's tunables: quotas, limits, cache and recovery timings (filled from the configuration)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    cmk_quota: int = 100
    grant_per_cmk_quota: int = 100
    list_limit_max: int = 1000
    batch_max: int = 1000
    data_max_bytes: int = 4096
    # BYOK with an OAEP hash the token's C_UnwrapKey lacks (SoftHSM2: SHA-256): decode OAEP in the
    # gateway, so the material passes through its memory. Off: such imports are refused.
    software_oaep_unwrap: bool = False
    # How long a key row read for a cryptographic call may be reused by this process. Any change
    # to the store drops the cache through ``store.generation``: this process's writes at once,
    # another worker's or node's within milliseconds (SQLite data_version poll, PostgreSQL
    # NOTIFY; docs/postgres.md). This TTL is the backstop bound. 0: read the store on every call.
    key_cache_seconds: float = 1.0
    # Recovery (housekeeping.py, docs/recovery.md): a token object that no row knows is reported at
    # once and destroyed only this long after it was first seen (a restored store, a node mid-create).
    orphan_grace_seconds: float = 3600.0
    # A provisioning key row or pending version younger than this may belong to a live node still
    # generating its object: reconciliation leaves it alone until then.
    provisioning_timeout_seconds: float = 300.0
    # Test mode (`kmsgw dev`, the pytest plugin): seed files may fix key ids, AK/SK pairs and user ids
    # (gateway/core/seeding.py). Only the dev runtime sets it; no configuration file or option can.
    test_mode: bool = False
