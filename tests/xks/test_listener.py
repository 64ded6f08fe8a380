"""``[xks] listen``: XKS on a listener of its own, served under the split serving model by worker
processes of its own (docs/xks.md, "Latency"). Real `kmsgw serve --workers 2` processes: XKS keeps
answering correctly, every second, while REST runs flat out; SIGTERM drains the XKS listener (calls
in flight when it lands complete); killed XKS workers are replaced. No timing is asserted."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.xks.conftest import XksGateway, start_xks, stop
from tests.xks.support import XksClient, decrypt_body, encrypt_body

OWN = '[xks]\nlisten = "127.0.0.1:0"\n'
LOAD_SECONDS = 4.0
REST_THREADS = 4


def _xks(gw: XksGateway, key: str) -> tuple[XksClient, str]:
    port = next(r["xks_port"] for r in gw.srv.log_lines if r.get("msg") == "serving")
    return XksClient.from_config(f"http://127.0.0.1:{port}", gw.keystore), f"keys/{key}"


def _round_trip(client: XksClient, path: str) -> str:
    """One Encrypt and Decrypt of fresh bytes: "ok", or what went wrong."""
    plain = os.urandom(32)
    enc = client.post(f"{path}/encrypt", encrypt_body(plain))
    if enc.status != 200:
        return f"encrypt {enc.status} {enc.error}"
    dec = client.post(f"{path}/decrypt", decrypt_body(enc.body))
    if dec.status != 200:
        return f"decrypt {dec.status} {dec.error}"
    return "ok" if base64.b64decode(dec.body["plaintext"]) == plain else "wrong plaintext"


def _xks_workers(gw: XksGateway) -> set[int]:
    return {r["pid"] for r in gw.srv.log_lines if r.get("msg") == "worker serving" and r.get("transports") == ["xks"]}


def _rest_flat_out(gw: XksGateway, key_id: str, stop_at: float, done: list[str]) -> None:
    body = json.dumps({"key_id": key_id, "datakey_length": "256"})
    headers = {"X-Auth-Token": gw.rest.token, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", gw.srv.http_port, timeout=30)
    while time.monotonic() < stop_at:
        conn.request("POST", f"/v1.0/{gw.project}/kms/create-datakey", body, headers)
        response = conn.getresponse()
        response.read()
        done.append("ok" if response.status == 200 else f"HTTP {response.status}")
    conn.close()


def test_xks_keeps_answering_on_its_own_workers_while_rest_runs_flat_out(tmp_path: Path) -> None:
    gw = start_xks(tmp_path, config_text=OWN, workers=2)
    try:
        key_id, xks_key = gw.mapped_key()
        client, path = _xks(gw, xks_key)
        assert _round_trip(client, path) == "ok"
        rest_done: list[str] = []
        stop_at = time.monotonic() + LOAD_SECONDS
        rest = [
            threading.Thread(target=_rest_flat_out, args=(gw, key_id, stop_at, rest_done)) for _ in range(REST_THREADS)
        ]
        for thread in rest:
            thread.start()
        start, xks_done = time.monotonic(), []
        while time.monotonic() < stop_at:
            xks_done.append((int(time.monotonic() - start), _round_trip(client, path)))
        for thread in rest:
            thread.join(60)
        assert [o for _, o in xks_done if o != "ok"] == []
        assert {s for s, _ in xks_done} == set(range(int(LOAD_SECONDS))), "a second without an XKS answer"
        assert rest_done and set(rest_done) == {"ok"}
        answered_by = {r["worker"] for r in gw.srv.log_lines if r.get("msg") == "xks request"}
        workers = {r["worker"]: r["transports"] for r in gw.srv.log_lines if r.get("msg") == "worker serving"}
        assert answered_by and all(workers[w] == ["xks"] for w in answered_by), (answered_by, workers)
        assert len(workers) == 6  # two per listener: gRPC, HTTP, XKS
        # The HTTP listener no longer carries XKS: its paths are REST's unknown ones there.
        misplaced = XksClient.from_config(gw.base, gw.keystore).post(f"{path}/encrypt", encrypt_body(b"x"))
        assert misplaced.status == 400 and misplaced.body["error"]["error_code"] == "KMS.0201"
    finally:
        stop(gw)


def test_sigterm_drains_the_xks_listener(tmp_path: Path) -> None:
    """Every XKS call sent before SIGTERM is answered; every worker (XKS's too) stops cleanly."""
    # Every token job waits 300 ms for company (no start deadline then): calls are in flight when the signal lands.
    config = OWN + "hsm_start_timeout_ms = 0\n[hsm]\nbatch_window_ms = 300\n"
    gw = start_xks(tmp_path, config_text=config, workers=2)
    _, xks_key = gw.mapped_key()
    client, path = _xks(gw, xks_key)
    calls: list[tuple[float, float, str]] = []
    halt = threading.Event()

    def caller() -> None:
        # One keep-alive connection each, made before the signal: a connection still in the accept
        # queue when the listener closes is refused, which is draining as it should be.
        with httpx.Client(timeout=30, trust_env=False) as http:
            while not halt.is_set():
                url, data = client.url(f"{path}/encrypt"), json.dumps(encrypt_body(os.urandom(32))).encode()
                sent = time.monotonic()
                try:
                    resp = http.post(url, content=data, headers=client.signed_headers(url, data))
                    outcome = "ok" if resp.status_code == 200 and len(resp.json()["ciphertext"]) == 44 else resp.text
                except httpx.HTTPError as exc:  # refused after the signal: the listener is closed
                    outcome = type(exc).__name__
                calls.append((sent, time.monotonic(), outcome))

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(o == "ok" for *_, o in calls) < 4:
        time.sleep(0.05)
    signalled = time.monotonic()
    gw.srv.proc.send_signal(signal.SIGTERM)
    try:
        assert gw.srv.proc.wait(60) == 0
    finally:
        halt.set()
        for thread in threads:
            thread.join(30)
        gw.rest.close()
    before = [(sent, end, o) for sent, end, o in calls if sent < signalled]
    assert before and all(o == "ok" for *_, o in before), [o for *_, o in before if o != "ok"]
    assert any(end > signalled for _, end, _ in before), "no XKS call was in flight when SIGTERM landed"
    stopped = [r for r in gw.srv.log_lines if r.get("msg") == "stopped" and r.get("logger") == "gateway.app.server"]
    assert len(stopped) == 6, len(stopped)


def test_killed_xks_workers_are_replaced(tmp_path: Path) -> None:
    gw = start_xks(tmp_path, config_text=OWN, workers=2)
    try:
        _, xks_key = gw.mapped_key()
        client, path = _xks(gw, xks_key)
        first = _xks_workers(gw)
        assert len(first) == 2
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(_xks_workers(gw) - first) < 2:
            time.sleep(0.2)
        assert len(_xks_workers(gw) - first) == 2, "the XKS workers were not replaced"
        assert _round_trip(client, path) == "ok"
        health = client.post("health", {"requestMetadata": {"kmsRequestId": str(uuid.uuid4()), "kmsOperation": "x"}})
        assert health.status == 200 and health.body["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"
    finally:
        stop(gw)


def test_the_listen_setting_is_checked_at_start() -> None:
    from gateway.app import serving, xks_wiring
    from gateway.app.config import load

    def refusal(**xks: object) -> str:
        cfg = load(None, rest_listen="127.0.0.1:8080", grpc_listen="127.0.0.1:50051")
        cfg.xks.enabled = True
        for name, value in xks.items():
            setattr(cfg.xks, name, value)
        try:
            xks_wiring.check(cfg)
        except xks_wiring.XksConfigError as exc:
            return str(exc)
        return ""

    assert "must be HOST:PORT" in refusal(listen="somewhere")
    assert "takes the port of rest_listen" in refusal(listen="0.0.0.0:8080")
    assert "takes the port of grpc_listen" in refusal(listen="127.0.0.1:50051")
    assert refusal(listen="0.0.0.0:8443") == refusal(listen="") == ""

    cfg = load(None)
    cfg.xks.enabled, cfg.xks.listen = True, "127.0.0.1:0"
    assert serving.worker_plan(cfg, 2) == [("grpc",), ("grpc",), ("http",), ("http",), ("xks",), ("xks",)]
    cfg.serve.model = "shared"
    assert serving.worker_plan(cfg, 2) == [("grpc", "http", "xks")] * 2
    cfg.xks.listen = ""  # XKS on the HTTP listener: no listener of its own
    assert serving.listeners(cfg) == ("grpc", "http")
