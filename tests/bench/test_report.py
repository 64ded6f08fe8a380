"""``kmsgw bench report`` on crafted result files: HTML with charts, CSV, and the exit codes CI gates on."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.bench import env, result
from gateway.bench.stats import Histogram
from tests.bench.conftest import kmsgw, validate

PNG = b"\x89PNG\r\n\x1a\n"


def crafted(scale: float = 1.0, errors: int = 0, p99_scale: float = 1.0) -> dict:
    """A small token-layer run: one mechanism at 1, 2 and 4 callers, rates scaled by ``scale``."""
    run = result.new_run("p11", ["kmsgw", "bench", "p11"], env.machine(), {"duration_s": 1.0})
    run["software_token"] = True
    for concurrency, rate, p99_us in ((1, 37_700, 67.0), (2, 75_000, 90.0), (4, 74_000, 4000.0)):
        h = Histogram()
        for i in range(1000):
            h.record(int(20_000 + (p99_us * 1000 * p99_scale if i >= 985 else i * 10)))
        fields = {"layer": "p11", "mechanism": "aes-gcm:256", "key": "AES-256", "payload": 32, "payload_applies": True,
                  "concurrency": concurrency, "model": "processes", "keys": "session"}  # fmt: skip
        run["cells"].append(result.cell(
            f"p11/aes-gcm:256/32B/c{concurrency}/processes", fields, rates=[rate * scale, rate * scale * 1.01],
            bytes_per_op=32, histogram=h, errors={"CKR_DEVICE_ERROR": errors} if errors else {},
            cpu=result.client_cpu(concurrency * 0.95, 1.0, concurrency, 2),
        ))  # fmt: skip
    run["curves"] = result.curves(run["cells"], ("mechanism", "payload", "model"), None)
    return result.finish(run)


def write(path: Path, doc: dict) -> Path:
    validate(doc)  # crafted files are valid kmsgw.bench/1 results
    path.write_text(json.dumps(doc))
    return path


def test_html_with_charts_csv_and_a_regression_exit_code(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", crafted())
    slower = write(tmp_path / "slower.json", crafted(scale=0.8))
    html, csv, plots = tmp_path / "report.html", tmp_path / "cells.csv", tmp_path / "plots"
    r = kmsgw("bench", "report", str(slower), "--compare", str(base), "--threshold", "5%", "--html", str(html),
              "--csv", str(csv), "--plots-dir", str(plots))  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "3 regression(s)" in r.stderr and "regression" in r.stdout and "-20.0 %" in r.stdout
    page = html.read_text()
    assert page.count('<img alt="') >= 2 and page.count("data:image/png;base64,") >= 2
    assert "Software token" in page and "Comparison with the baseline" in page
    charts = sorted(plots.glob("*.png"))
    assert [p.name for p in charts] == ["p11-aes-gcm256-curve.png", "p11-aes-gcm256-latency.png"]
    assert all(p.read_bytes().startswith(PNG) for p in charts)
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("file,id,layer") and len(rows) == 1 + 3


def test_within_the_threshold_passes_and_p99_can_gate_too(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", crafted())
    close = write(tmp_path / "close.json", crafted(scale=0.97))
    r = kmsgw("bench", "report", str(close), "--compare", str(base), "--threshold", "5%")
    assert r.returncode == 0, r.stderr
    slow_tail = write(tmp_path / "tail.json", crafted(p99_scale=3.0))
    r = kmsgw("bench", "report", str(slow_tail), "--compare", str(base), "--p99-threshold", "50%")
    assert r.returncode == 1 and "regression" in r.stderr


def test_errors_in_a_run_fail_the_report(tmp_path: Path) -> None:
    r = kmsgw("bench", "report", str(write(tmp_path / "errors.json", crafted(errors=3))))
    assert r.returncode == 1 and "CKR_DEVICE_ERROR" in r.stdout and "counted errors" in r.stderr


def test_files_that_are_not_results_are_usage_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something/9"}))
    r = kmsgw("bench", "report", str(other))
    assert r.returncode == 2 and "not a kmsgw.bench/1 result" in r.stderr
    broken = crafted()
    del broken["cells"][0]["throughput"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    r = kmsgw("bench", "report", str(tmp_path / "broken.json"))
    assert r.returncode == 2 and "throughput" in r.stderr
    (tmp_path / "junk.json").write_text("{")
    assert kmsgw("bench", "report", str(tmp_path / "junk.json")).returncode == 2
    r = kmsgw("bench", "report", "--print-schema")
    assert r.returncode == 0 and json.loads(r.stdout)["$id"] == "kmsgw.bench/1"
