"""``kmsgw bench gateway`` against real gateways: one it starts, one already running; gRPC and REST."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.bench.gw import server
from tests.bench.conftest import SHORT, kmsgw, load


def _check_gateway_cells(doc: dict, transports: set[str]) -> list[dict]:
    gw = [c for c in doc["cells"] if c["layer"] == "gateway" and c["status"] == "ok"]
    assert {c["transport"] for c in gw} == transports
    raw_ids = {c["id"] for c in doc["cells"] if c["layer"] == "p11" and c["status"] == "ok"}
    for c in gw:
        assert c["throughput"]["mean"] > 0 and c["error_count"] == 0, c
        assert c["x_raw"] is not None and c["x_raw"] > 0 and c["raw_ref"] in raw_ids
        split = c["time_split_ms"]
        assert split and split["requests_seen"] > 0 and split["token"] >= 0 and split["handler"] > 0
    return gw


def test_start_with_raw_on_grpc_and_rest(tmp_path: Path) -> None:
    out = tmp_path / "gw.json"
    r = kmsgw(
        "bench", "gateway", "--start", "--with-raw", "--transports", "grpc,rest,xks",
        "--operations", "create_datakey,decrypt_datakey,sign", "--concurrency", "1,2", "--batch-sizes", "10",
        "--batch-concurrency", "1", "--rates", "40", "--verify", *SHORT, "--out", str(out), timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = load(out)
    gw = _check_gateway_cells(doc, {"grpc", "rest"})
    modes = {(c["transport"], c["operation"], c["mode"]) for c in gw}
    for t in ("grpc", "rest"):
        assert {(t, "create_datakey", "closed"), (t, "create_datakey", "batch"), (t, "create_datakey", "open"),
                (t, "decrypt_datakey", "batch"), (t, "sign", "closed")} <= modes  # fmt: skip
    batch = next(c for c in gw if c["mode"] == "batch")
    assert batch["throughput"]["unit"] == "items/s" and batch["batch_size"] == 10
    assert all(c["dropped"] == 0 for c in gw if c["mode"] == "open")
    [xks] = [c for c in doc["cells"] if c.get("transport") == "xks"]
    assert xks["status"] == "skipped" and "XKS" in xks["reason"]
    raw = {c["mechanism"] for c in doc["cells"] if c["layer"] == "p11" and c["status"] == "ok"}
    assert raw == {"aes-gcm:256", "ecdsa:p256"}
    assert doc["software_token"] is True and doc["environment"]["gateway"]["started"] is True
    assert doc["environment"]["token"]["label"] == "kmsgw" and "x raw" in r.stdout


def test_running_gateway_with_raw_from_its_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    token = server.make_token(data_dir)
    gw = server.start(data_dir, token, 1, None, tmp_path / "logs")
    try:
        token_file = tmp_path / "token"
        token_file.write_text(token)
        os.chmod(token_file, 0o600)
        out = tmp_path / "running.json"
        r = kmsgw(
            "bench", "gateway", "--target", gw.grpc_target, "--rest-url", gw.rest_url, "--token-file", str(token_file),
            "--project-id", gw.project_id, "--transports", "grpc,rest", "--operations", "create_datakey",
            "--concurrency", "1", "--with-raw", "--data-dir", str(data_dir), "--verify", *SHORT, "--out", str(out),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "scheduled for deletion" in r.stderr  # the key the run made on a gateway it did not start
        _check_gateway_cells(load(out), {"grpc", "rest"})
        assert token not in out.read_text() and token not in r.stdout + r.stderr
        os.chmod(token_file, 0o644)
        r = kmsgw("bench", "gateway", "--target", gw.grpc_target, "--token-file", str(token_file), *SHORT)
        assert r.returncode == 2 and "token" in r.stderr and "Traceback" not in r.stderr
    finally:
        gw.stop()
    r = kmsgw("bench", "gateway", "--operations", "create_datakey", *SHORT)
    assert r.returncode == 2 and "--target" in r.stderr
