"""The result file (``kmsgw.bench/1``): cells, the curves drawn through them, and the run around them.

A *cell* is one point of the sweep (mechanism or operation x key x payload x concurrency ...),
measured ``repeat`` times: throughput is the mean over repeats with its 95 % confidence interval,
latency comes from one histogram merged over every worker and repeat. A *curve* is the cells that
differ only by concurrency; it carries the scaling efficiency and the knee: the concurrency with
the highest throughput whose p99 stays within a budget (explicit, or 5 x the p99 at the lowest
concurrency measured), because past it more callers buy latency, not throughput.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gateway.bench import SCHEMA_ID
from gateway.bench.env import load_average
from gateway.bench.stats import Histogram, mean_ci95

DEFAULT_BUDGET_FACTOR = 5.0
CLIENT_BOUND = 0.9  # share of the cores the callers may use before the client is the limit


def new_run(kind: str, command: Sequence[str], environment: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "kind": kind,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": list(command),
        "software_token": False,
        "environment": environment,
        "settings": settings,
        "discovery": None,
        "cells": [],
        "curves": [],
        "summary": {},
    }


def client_cpu(cpu_seconds: float, window_s: float, callers: int, cores: int) -> dict[str, Any]:
    """CPU the calling processes used; "bound" when they saturate what they can use, so the figure
    is a limit of the client (or of a software token running inside it), not of the device."""
    used = cpu_seconds / window_s if window_s > 0 else 0.0
    return {
        "cores_used": round(used, 3),
        "percent_of_machine": round(100.0 * used / max(1, cores), 1),
        "bound": used >= CLIENT_BOUND * max(1, min(callers, cores)),
    }


def cell(
    cell_id: str,
    fields: dict[str, Any],
    *,
    status: str = "ok",
    reason: str = "",
    note: str = "",
    rates: Sequence[float] = (),
    unit: str = "ops/s",
    bytes_per_op: int | None = None,
    histogram: Histogram | None = None,
    errors: dict[str, int] | None = None,
    cpu: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One cell of the result file; a skipped or failed cell keeps its fields and says why."""
    errors = dict(errors or {})
    out: dict[str, Any] = {"id": cell_id, **fields, "status": status, "reason": reason, "note": note}
    throughput = mean_ci95(list(rates))
    out["throughput"] = {"unit": unit, **throughput, "values": [round(r, 3) for r in rates]}
    if bytes_per_op and rates:
        out["bytes_per_s"] = mean_ci95([r * bytes_per_op for r in rates])
    else:
        out["bytes_per_s"] = None
    out["latency_us"] = histogram.summary_us() if histogram is not None and histogram.count else None
    out["histogram"] = histogram.to_json() if histogram is not None and histogram.count else None
    out["errors"] = errors
    out["error_count"] = sum(errors.values())
    out["client_cpu"] = cpu
    out["scaling_efficiency"] = None
    out["x_raw"] = None
    out.update(extra or {})
    return out


def merge_errors(groups: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for g in groups:
        total.update(g)
    return dict(total)


def _mean(c: dict[str, Any]) -> float:
    return float(c["throughput"]["mean"] or 0.0)


def _p99(c: dict[str, Any]) -> float | None:
    lat = c.get("latency_us") or {}
    return lat.get("p99")


def curves(cells: list[dict[str, Any]], group_fields: Sequence[str], budget_us: float | None) -> list[dict[str, Any]]:
    """Group ok cells by ``group_fields`` (all but concurrency), set each cell's scaling efficiency
    against the curve's lowest concurrency, and find each curve's knee."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for c in cells:
        if c["status"] == "ok" and c["throughput"]["mean"]:
            groups.setdefault(tuple(c.get(f) for f in group_fields), []).append(c)
    out = []
    for key, members in groups.items():
        members.sort(key=lambda c: c["concurrency"])
        base = members[0]
        for c in members:
            ratio = c["concurrency"] / base["concurrency"]
            c["scaling_efficiency"] = round(_mean(c) / _mean(base) / ratio, 3) if ratio else None
        base_p99 = _p99(base)
        budget, source = budget_us, "explicit"
        if budget is None and base_p99 is not None:
            budget, source = (
                DEFAULT_BUDGET_FACTOR * base_p99,
                f"{DEFAULT_BUDGET_FACTOR:g} x p99 at the lowest concurrency",
            )
        within = [c for c in members if budget is not None and (_p99(c) or float("inf")) <= budget]
        knee = max(within, key=_mean) if within else None
        out.append({
            "group": dict(zip(group_fields, key, strict=True)),
            "points": [{"concurrency": c["concurrency"], "throughput": _mean(c), "p99_us": _p99(c)} for c in members],
            "p99_budget_us": budget,
            "budget_source": source,
            "knee": None if knee is None else {
                "concurrency": knee["concurrency"], "throughput": _mean(knee), "p99_us": _p99(knee),
            },
        })  # fmt: skip
    return out


def finish(run: dict[str, Any]) -> dict[str, Any]:
    run["environment"]["load_average_end"] = load_average()
    statuses = Counter(c["status"] for c in run["cells"])
    run["summary"] = {
        "cells": len(run["cells"]),
        "ok": statuses.get("ok", 0),
        "skipped": statuses.get("skipped", 0),
        "failed": statuses.get("failed", 0),
        "errors": sum(c["error_count"] for c in run["cells"]),
    }
    return run


def write_json(run: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(run, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)
