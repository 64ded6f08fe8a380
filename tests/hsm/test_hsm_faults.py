"""HSM faults against the real SoftHSM2 token: errors (500 KMS.0102) during, right answers after, no restart.

Three faults, each made on the real token:
a. sessions closed under the gateway (C_CloseAllSessions on the library the gateway loaded);
b. CKR_DEVICE_ERROR, from a forwarding shim in front of the real SoftHSM2 (tests/support/pkcs11_shim.py:
   SoftHSM2 never returns it by itself) while a control file exists;
c. the token directory taken away and put back. Tests run as root, so chmod does not stop reads;
   the directory is renamed away instead. SoftHSM2 then still answers, but its searches silently
   find no token object and writes fail with CKR_GENERAL_ERROR: the gateway must call that a
   fault (its canary object is missing), never "no such key" (a 400 for a good ciphertext).

Throughout, a decrypt answers the right plaintext or an error, never anything else, and health
follows the token: ``/healthz`` 503 and gRPC NOT_SERVING while it is down, back without a restart.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
import uuid
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.core.ports.hsm import key_label
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from gateway.hsm.softhsm import ensure_softhsm, find_softhsm_module
from tests.support import pkcs11_shim
from tests.support.gateway import kms_code
from tests.support.rest import Rest
from tests.support.serve import cli, start_serve

HSM_IO = "KMS.0102"
GRPC_FAULT = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}


# -- helpers ------------------------------------------------------------------------------
def wait_for(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def healthz(http_port: int) -> int:
    return httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=10, trust_env=False).status_code


def grpc_health(grpc_port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status


SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def assert_down(grpc_port: int, http_port: int) -> None:
    wait_for(lambda: healthz(http_port) == 503, what="/healthz 503")
    wait_for(lambda: grpc_health(grpc_port) == NOT_SERVING, what="gRPC NOT_SERVING")


def assert_up(grpc_port: int, http_port: int, timeout: float = 15.0) -> None:
    wait_for(lambda: healthz(http_port) == 200, timeout, what="/healthz 200")
    wait_for(lambda: grpc_health(grpc_port) == SERVING, timeout, what="gRPC SERVING")
    assert httpx.get(f"http://127.0.0.1:{http_port}/livez", timeout=10, trust_env=False).status_code == 200


class Checker:
    """Decrypts known ciphertexts over both transports in a loop; every answer is right or a KMS.0102 error."""

    def __init__(self, kms, rest: Rest, samples: list[tuple[str, bytes, bytes]]) -> None:
        self.kms, self.rest, self.samples = kms, rest, samples
        self.right = self.faults = 0
        self.wrong: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Checker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key_id, blob, plain in self.samples:
                self.check_once(key_id, blob, plain)

    def check_once(self, key_id: str, blob: bytes, plain: bytes) -> bool:
        """One gRPC and one REST decrypt of a data key; True when both answered right."""
        ok = True
        try:
            out = self.kms.DecryptDataKey(
                pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=blob, datakey_cipher_length=32), timeout=30
            )
            if out.data_key == plain:
                self.right += 1
            else:
                self.wrong.append("grpc: wrong plaintext")
        except grpc.RpcError as err:
            ok = False
            if err.code() in GRPC_FAULT and kms_code(err) == HSM_IO:
                self.faults += 1
            else:
                self.wrong.append(f"grpc: {err.code()} {kms_code(err)}")
        resp = self.rest.call(
            "/decrypt-datakey", {"key_id": key_id, "cipher_text": blob.hex(), "datakey_cipher_length": "32"}
        )
        if resp.status_code == 200:
            if bytes.fromhex(resp.json()["data_key"]) == plain:
                self.right += 1
            else:
                self.wrong.append("rest: wrong plaintext")
        else:
            ok = False
            code = resp.json().get("error", {}).get("error_code")
            if (resp.status_code, code) == (500, HSM_IO):
                self.faults += 1
            else:
                self.wrong.append(f"rest: {resp.status_code} {code}")
        return ok


def data_keys(kms, key_id: str, n: int) -> list[tuple[str, bytes, bytes]]:
    out = []
    for _ in range(n):
        dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
        out.append((key_id, dk.cipher_text, dk.plain_text))
    return out


def expect_hsm_io_grpc(fn, request) -> None:
    with pytest.raises(grpc.RpcError) as info:
        fn(request)
    assert info.value.code() in GRPC_FAULT and kms_code(info.value) == HSM_IO, (info.value.code(), kms_code(info.value))


def expect_hsm_io_rest(resp: httpx.Response) -> None:
    assert resp.status_code == 500, resp.text
    assert resp.json()["error"]["error_code"] == HSM_IO


def all_ok(rest: Rest, kms, samples) -> None:
    """Everything works again: new keys, new data keys, every old ciphertext."""
    key_id = rest.create_key()
    more = data_keys(kms, key_id, 2)
    probe = Checker(kms, rest, [])
    for key, blob, plain in samples + more:
        assert probe.check_once(key, blob, plain), probe.wrong
    assert not probe.wrong


# -- a. sessions closed under the gateway ---------------------------------------------------
def close_all_sessions(gateway) -> None:
    """C_CloseAllSessions on the library the gateway loaded (same dlopen handle, same SoftHSM2 state),
    run on the executor thread so it never overlaps another PKCS#11 call (docs/architecture.md, "Concurrency")."""

    def job(t) -> None:
        lib = ctypes.CDLL(gateway.rt.config.module_path())
        assert lib.C_CloseAllSessions(ctypes.c_ulong(t.session.token.slot.slot_id)) == 0

    gateway.rt.executor.run_sync(job)


def test_sessions_closed_under_the_gateway(gateway, project, key_id):
    project_id, kms = project
    rest = Rest(gateway.rest_url, project_id, token=gateway.token(project_id))
    samples = data_keys(kms, key_id, 4)
    label = key_label(key_id, 1)
    assert label in gateway.rt.executor.run_sync(lambda t: t.objects.copy_labels())  # the hot path uses a session copy
    heals_before = gateway.rt.executor.run_sync(lambda t: t.heals)
    with Checker(kms, rest, samples) as checker:
        for _ in range(5):
            time.sleep(0.2)
            close_all_sessions(gateway)
        time.sleep(0.3)
    assert not checker.wrong and checker.right > 0
    assert gateway.rt.executor.run_sync(lambda t: t.heals) > heals_before
    # Healing rebuilt the session copy and the cached handles: the same key answers from a new copy.
    all_ok(rest, kms, samples)
    assert label in gateway.rt.executor.run_sync(lambda t: t.objects.copy_labels())
    assert gateway.rt.executor.healthy
    assert_up(gateway.grpc_port, gateway.http_port)
    rest.close()


# -- c. the token directory taken away and put back -------------------------------------------
def test_token_directory_removed_and_restored(gateway, project, key_id):
    project_id, kms = project
    rest = Rest(gateway.rest_url, project_id, token=gateway.token(project_id))
    samples = data_keys(kms, key_id, 3)
    cold = rest.create_key()  # a key whose object the executor has not copied yet
    cold_samples = data_keys(kms, cold, 1)
    gateway.rt.executor.run_sync(lambda t: t.objects.forget_copy(key_label(cold, 1)))
    tokens = gateway.rt.config.data_dir / "tokens"
    away = tokens.with_name("tokens.away")
    heals_before = gateway.rt.executor.run_sync(lambda t: t.heals)
    with Checker(kms, rest, samples + cold_samples) as checker:
        os.rename(tokens, away)
        try:
            assert_down(gateway.grpc_port, gateway.http_port)
            expect_hsm_io_rest(rest.call("/create-key", {"key_alias": f"k-{uuid.uuid4().hex[:12]}"}))
            expect_hsm_io_grpc(kms.CreateKey, pb.CreateKeyRequest(key_alias=f"k-{uuid.uuid4().hex[:12]}"))
            expect_hsm_io_grpc(kms.EncryptData, pb.EncryptDataRequest(key_id=cold, plain_text=b"x"))
            # Never "no such key": the search that finds nothing is a fault while the canary is missing.
            with pytest.raises(Exception):
                gateway.call(gateway.rt.kms.reconcile())
            time.sleep(1.0)
        finally:
            os.rename(away, tokens)
        assert_up(gateway.grpc_port, gateway.http_port)
        time.sleep(0.5)
    assert not checker.wrong, checker.wrong[:5]
    assert checker.faults > 0
    assert gateway.rt.executor.run_sync(lambda t: t.heals) > heals_before
    all_ok(rest, kms, samples + cold_samples)
    assert {key_label(key_id, 1), key_label(cold, 1)} <= gateway.rt.executor.run_sync(lambda t: t.objects.copy_labels())
    report = gateway.call(gateway.rt.kms.reconcile())  # nothing was dropped or taken for an orphan
    assert key_id not in report.removed_rows and not [o for o in report.orphans if o.startswith(key_id)]
    rest.close()


# -- b. CKR_DEVICE_ERROR from the (shimmed) real token -------------------------------------------
@pytest.fixture
def shimmed(tmp_path, monkeypatch):
    if not pkcs11_shim.available():
        pytest.skip("gcc or p11-kit's pkcs11.h is missing")
    shim = pkcs11_shim.build(tmp_path)
    data_dir = tmp_path / "var"
    ensure_softhsm(data_dir)
    fault = tmp_path / "device-error"
    config = tmp_path / "kmsgw.toml"
    config.write_text(
        "[hsm]\n"
        f'module = "{shim}"\n'
        f'softhsm_conf = "{data_dir / "softhsm2.conf"}"\n'
        f'pin_file = "{data_dir / "hsm.pin"}"\n'
    )
    monkeypatch.setenv(pkcs11_shim.FAULT_ENV, str(fault))
    monkeypatch.setenv(pkcs11_shim.REAL_ENV, find_softhsm_module())
    srv = start_serve(data_dir, "--config", str(config))
    yield srv, fault
    fault.unlink(missing_ok=True)
    assert srv.terminate() == 0


def test_device_error(shimmed):
    srv, fault = shimmed
    project_id = uuid.uuid4().hex
    token = cli(srv.data_dir, "token", "create", "--project-id", project_id)["token"]
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
    stub = pb_grpc.KeyManagementServiceStub(channel)
    md = (("x-auth-token", token),)

    class Kms:
        def __getattr__(self, name):
            return lambda req, **kw: getattr(stub, name)(req, metadata=md, timeout=kw.get("timeout", 30))

    kms = Kms()
    rest = Rest(f"http://127.0.0.1:{srv.http_port}", project_id, token=token)
    key_id = rest.create_key()
    samples = data_keys(kms, key_id, 3)
    signing = kms.CreateKey(pb.CreateKeyRequest(key_alias="signer", key_spec="EC_P256")).key_info.key_id
    assert_up(srv.grpc_port, srv.http_port)
    with Checker(kms, rest, samples) as checker:
        fault.touch()
        assert_down(srv.grpc_port, srv.http_port)
        expect_hsm_io_rest(rest.call("/create-key", {"key_alias": f"k-{uuid.uuid4().hex[:12]}"}))
        expect_hsm_io_rest(rest.call("/encrypt-data", {"key_id": key_id, "plain_text": "during"}))
        expect_hsm_io_rest(rest.call("/gen-random", {"random_data_length": "4096"}))
        expect_hsm_io_grpc(
            kms.Sign, pb.SignRequest(key_id=signing, message=b"m" * 32, signing_algorithm="ECDSA_SHA_256")
        )
        fault.unlink()
        assert_up(srv.grpc_port, srv.http_port)
        # Flapping: the device fails and recovers under load, several times.
        for _ in range(4):
            fault.touch()
            time.sleep(0.3)
            fault.unlink()
            time.sleep(0.5)
        assert_up(srv.grpc_port, srv.http_port)
        time.sleep(0.5)
    assert not checker.wrong, checker.wrong[:5]
    assert checker.faults > 0 and checker.right > 0
    all_ok(rest, kms, samples)
    sig = kms.Sign(pb.SignRequest(key_id=signing, message=b"m" * 32, signing_algorithm="ECDSA_SHA_256"))
    assert sig.signature
    assert any(rec.get("msg") == "hsm unavailable" for rec in srv.log_lines)
    assert any(rec.get("msg") == "hsm available again" for rec in srv.log_lines)
    channel.close()
    rest.close()


def test_shim_forwards_every_function():
    """The generated shim covers the whole v2.40 function list (guards the header parsing)."""
    if not pkcs11_shim.available():
        pytest.skip("gcc or p11-kit's pkcs11.h is missing")
    names = [name for name, _, _ in pkcs11_shim._functions()]
    assert len(names) == 68 and names[0] == "C_Initialize" and "C_GenerateRandom" in names
    assert Path(pkcs11_shim.HEADER).exists()
