"""The vault's retry path, proven against a KMS whose HSM really fails (and heals by itself)."""

from __future__ import annotations

import pytest
from envelope_app import Vault, VaultUnavailable


def test_the_vault_rides_out_a_short_hsm_outage(vault, kms_faults):
    sealed = vault.seal(b"sealed before the outage")
    kms_faults.hsm_unavailable(seconds=1.0)  # ends by itself, on the gateway's side
    assert vault.open(sealed) == b"sealed before the outage"
    assert vault.retries >= 1


def test_the_vault_gives_up_when_the_outage_outlasts_its_budget(kms_client, kms_key, kms_faults):
    vault = Vault(kms_client, kms_key().key_id, attempts=2, backoff=0.05)
    with kms_faults.hsm_unavailable():
        with pytest.raises(VaultUnavailable) as err:
            vault.seal(b"never sealed")
    assert err.value.__cause__.code == "KMS.0102"  # what clients see while the HSM is down
    assert vault.seal(b"sealed after the outage")  # the gateway healed itself


def test_a_slow_hsm_costs_time_not_errors(vault, kms_faults):
    with kms_faults.latency(ms=20):
        assert vault.open(vault.seal(b"slow")) == b"slow"
    assert vault.retries == 0


def test_closed_sessions_heal_transparently(vault, kms_faults):
    sealed = vault.seal(b"before")
    kms_faults.close_sessions()
    assert vault.open(sealed) == b"before"
    assert vault.retries == 0
