"""The XKS endpoint when the token fails, is busy, or a caller is too fast.

* Health while the token is unavailable (CKR_DEVICE_ERROR from the fault shim in front of the real
  SoftHSM2, tests/support/pkcs11_shim.py): still HTTP 200, ``healthStatus`` UNAVAILABLE, and back to
  ACTIVE once the token answers, with no restart; an encrypt meanwhile is 500 InternalException.
* A token job that cannot start within ``[xks] hsm_start_timeout_ms``: 503 DependencyTimeoutException.
* Over the rate limit: 429 ThrottlingException with Retry-After.
"""

from __future__ import annotations

import time

import pytest

from gateway.hsm.softhsm import ensure_softhsm, find_softhsm_module
from tests.support import pkcs11_shim
from tests.xks.conftest import start_xks, stop
from tests.xks.support import decrypt_body, encrypt_body, meta

HEALTH = {"requestMetadata": meta("KmsHealthCheck", key_op=False)}


def _status(client) -> str:
    reply = client.post("health", HEALTH)
    assert reply.status == 200, reply.body  # health answers 200 whatever the token's state
    return str(reply.body["ekmFleetDetails"][0]["healthStatus"])


def _until(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def test_health_while_the_token_is_unavailable(tmp_path, monkeypatch):
    if not pkcs11_shim.available():
        pytest.skip("gcc or p11-kit's pkcs11.h is missing")
    shim = pkcs11_shim.build(tmp_path)
    data_dir = tmp_path / "var"
    ensure_softhsm(data_dir)
    fault = tmp_path / "device-error"
    monkeypatch.setenv(pkcs11_shim.FAULT_ENV, str(fault))
    monkeypatch.setenv(pkcs11_shim.REAL_ENV, find_softhsm_module())
    config = (
        f'[hsm]\nmodule = "{shim}"\nsofthsm_conf = "{data_dir / "softhsm2.conf"}"\n'
        f'pin_file = "{data_dir / "hsm.pin"}"\n'
        "[xks]\nhealth_cache_s = 60\n"  # a cached ACTIVE must not hide an outage
    )
    gw = start_xks(tmp_path, config_text=config)
    try:
        client = gw.client()
        _, xks_key = gw.mapped_key()
        assert _status(client) in ("ACTIVE", "DEGRADED")
        made = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"before")).body
        fault.touch()
        _until(lambda: _status(client) == "UNAVAILABLE", "health reports the outage")
        down = client.post("health", HEALTH).body
        assert down["ekmVendor"] == "SoftHSM project"  # read before the outage
        reply = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"during"))
        assert (reply.status, reply.error) == (500, "InternalException")
        assert client.post(f"keys/{xks_key}/decrypt", decrypt_body(made)).error == "InternalException"
        fault.unlink()
        _until(lambda: _status(client) == "ACTIVE", "health reports the token back")
        assert client.post(f"keys/{xks_key}/decrypt", decrypt_body(made)).status == 200
    finally:
        fault.unlink(missing_ok=True)
        stop(gw)


def test_a_busy_token_and_a_caller_over_its_rate(tmp_path):
    config = (
        "[xks]\nhsm_start_timeout_ms = 0.000001\n"  # any queued job is late: the deadline passes while it waits
        "[limits.operations]\nxks_get_key_metadata = { rate = 0.001, burst = 2 }\n"
    )
    gw = start_xks(tmp_path, config_text=config)
    try:
        client = gw.client()
        _, xks_key = gw.mapped_key()
        reply = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"x"))
        assert (reply.status, reply.error) == (503, "DependencyTimeoutException")
        fake = {"ciphertext": "AAAA", "initializationVector": "A" * 16, "authenticationTag": "A" * 22 + "=="}
        fake["ciphertextMetadata"] = "AQAAAAE="  # format 1, version 1: the token is asked
        assert client.post(f"keys/{xks_key}/decrypt", decrypt_body(fake)).error == "DependencyTimeoutException"
        assert _status(client) in ("ACTIVE", "DEGRADED")  # the health check has no such deadline
        describe = {"requestMetadata": meta("DescribeKey")}
        assert [client.post(f"keys/{xks_key}/metadata", describe).status for _ in range(2)] == [200, 200]
        throttled = client.curl(f"keys/{xks_key}/metadata", describe)
        assert (throttled.status, throttled.error) == (429, "ThrottlingException")
        again = client.post(f"keys/{xks_key}/metadata", describe)
        assert again.status == 429 and int(again.headers["retry-after"]) >= 1
    finally:
        stop(gw)
