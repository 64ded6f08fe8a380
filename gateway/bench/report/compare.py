"""Reading result files, comparing a run with a baseline, and CSV: what CI gates on.

Cells match by id (the same mechanism or operation, key, payload, concurrency, model, workers...).
A regression is a throughput drop beyond the threshold, or (when asked) a p99 rise beyond its
own threshold; a cell that failed or counted errors fails the report too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.bench.schema import InvalidResult, validate


def load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidResult(f"{path}: no such file") from None
    except ValueError as exc:
        raise InvalidResult(f"{path}: not JSON ({exc})") from None
    try:
        validate(doc)
    except InvalidResult as exc:
        raise InvalidResult(f"{path}: {exc}") from None
    assert isinstance(doc, dict)
    return doc


@dataclass
class Delta:
    cell_id: str
    base: float | None
    new: float | None
    change_pct: float | None
    base_p99: float | None
    new_p99: float | None
    p99_change_pct: float | None
    verdict: str  # "regression" | "improvement" | "same" | "new" | "gone"


def _pct(new: float | None, base: float | None) -> float | None:
    if new is None or not base:
        return None
    return 100.0 * (new - base) / base


def compare(
    base: dict[str, Any], new: dict[str, Any], threshold_pct: float, p99_threshold_pct: float | None
) -> list[Delta]:
    def ok(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in doc["cells"] if c["status"] == "ok"}

    before, after = ok(base), ok(new)
    out = []
    for cid in list(dict.fromkeys([*before, *after])):
        b, n = before.get(cid), after.get(cid)
        bm = b["throughput"]["mean"] if b else None
        nm = n["throughput"]["mean"] if n else None
        bp = (b.get("latency_us") or {}).get("p99") if b else None
        np_ = (n.get("latency_us") or {}).get("p99") if n else None
        change, p99_change = _pct(nm, bm), _pct(np_, bp)
        if b is None:
            verdict = "new"
        elif n is None:
            verdict = "gone"
        elif (change is not None and change < -threshold_pct) or (
            p99_threshold_pct is not None and p99_change is not None and p99_change > p99_threshold_pct
        ):
            verdict = "regression"
        elif change is not None and change > threshold_pct:
            verdict = "improvement"
        else:
            verdict = "same"
        out.append(Delta(cid, bm, nm, change, bp, np_, p99_change, verdict))
    return out


def problems(doc: dict[str, Any]) -> list[str]:
    """Failed cells and cells that counted errors: each fails the report."""
    out = []
    for c in doc["cells"]:
        if c["status"] == "failed":
            out.append(f"{c['id']}: failed: {c['reason']}")
        elif c["error_count"]:
            out.append(f"{c['id']}: {c['error_count']} errors {c['errors']}")
    return out


def delta_rows(deltas: list[Delta]) -> list[list[str]]:
    rows = [["cell", "baseline", "this run", "change", "p99 baseline", "p99 this run", "p99 change", "verdict"]]

    def num(v: float | None) -> str:
        return "" if v is None else f"{v:,.0f}"

    def pct(v: float | None) -> str:
        return "" if v is None else f"{v:+.1f} %"

    for d in deltas:
        rows.append([d.cell_id, num(d.base), num(d.new), pct(d.change_pct), num(d.base_p99), num(d.new_p99),
                     pct(d.p99_change_pct), d.verdict])  # fmt: skip
    return rows


CSV_FIELDS = [
    "file", "id", "layer", "mechanism", "operation", "transport", "mode", "key", "payload", "concurrency", "workers",
    "batch_size", "rate", "model", "status", "reason", "throughput", "ci95", "unit", "bytes_per_s", "p50_us", "p90_us",
    "p99_us", "p999_us", "max_us", "errors", "client_cores", "client_bound", "scaling_efficiency", "x_raw",
    "software_token",
]  # fmt: skip


def to_csv(docs: list[tuple[str, dict[str, Any]]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for name, doc in docs:
        for c in doc["cells"]:
            lat = c.get("latency_us") or {}
            cpu = c.get("client_cpu") or {}
            row = {k: c.get(k) for k in CSV_FIELDS}
            row.update({
                "file": name, "throughput": c["throughput"]["mean"], "ci95": c["throughput"]["ci95"],
                "unit": c["throughput"]["unit"], "bytes_per_s": (c.get("bytes_per_s") or {}).get("mean"),
                "p50_us": lat.get("p50"), "p90_us": lat.get("p90"), "p99_us": lat.get("p99"),
                "p999_us": lat.get("p999"), "max_us": lat.get("max"), "errors": c["error_count"],
                "client_cores": cpu.get("cores_used"), "client_bound": cpu.get("bound"),
                "software_token": doc.get("software_token"),
            })  # fmt: skip
            writer.writerow(row)
    return buf.getvalue()
