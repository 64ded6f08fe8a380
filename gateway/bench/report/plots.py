"""The report's charts, drawn with matplotlib (Agg, no display needed).

* A curve chart per mechanism (token layer) or per transport x operation x mode (gateway layer):
  throughput against concurrency with its CI95 (solid, left axis) and p99 (dashed, right axis),
  the knee circled; every run given to ``report`` is overlaid, so a comparison shows both curves.
* A latency-distribution chart for the same groups: latency at each percentile from the merged
  histograms (x from p50 to p99.99 on a log scale, where tails show).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from typing import Any

from gateway.bench.stats import Histogram

SOFTWARE = "software token (SoftHSM2)"


def _chart_key(c: dict[str, Any]) -> tuple[str, ...]:
    if c["layer"] == "p11":
        return ("p11", c["mechanism"])
    batch = f"batch {c['batch_size']}" if c.get("batch_size") else c["mode"]
    return ("gateway", c["transport"], c["operation"], batch)


def _line_key(c: dict[str, Any]) -> str:
    if c["layer"] == "p11":
        parts = [f"{c['payload']} B" if c.get("payload_applies") else "", c.get("model", "")]
    else:
        parts = [
            f"{c['payload']} B" if c.get("payload_applies") else "",
            f"{c['workers']}w" if c.get("workers") else "",
        ]
    return ", ".join(p for p in parts if p)


def _title(key: tuple[str, ...]) -> str:
    return "raw token: " + key[1] if key[0] == "p11" else f"gateway {key[1]} {key[2]} ({key[3]})"


def _slug(key: tuple[str, ...]) -> str:
    return "-".join(k.replace(":", "").replace(" ", "") for k in key)


def _groups(runs: list[tuple[str, dict[str, Any]]]) -> dict[tuple[str, ...], dict[tuple[str, str], list[dict]]]:
    charts: dict[tuple[str, ...], dict[tuple[str, str], list[dict[str, Any]]]] = {}
    for name, run in runs:
        for c in run["cells"]:
            if c["status"] != "ok" or c.get("mode") == "open" or not c["throughput"]["mean"]:
                continue
            charts.setdefault(_chart_key(c), {}).setdefault((name, _line_key(c)), []).append(c)
    return charts


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _software(runs: Iterable[tuple[str, dict[str, Any]]]) -> bool:
    return any(run.get("software_token") for _, run in runs)


def curve_chart(
    key: tuple[str, ...], lines: dict[tuple[str, str], list[dict[str, Any]]], several: bool, soft: bool
) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax2 = ax.twinx()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ((run, label), cells) in enumerate(sorted(lines.items())):
        cells = sorted(cells, key=lambda c: c["concurrency"])
        color = colors[i % len(colors)]
        name = ", ".join(p for p in ((run if several else ""), label) if p) or "throughput"
        xs = [c["concurrency"] for c in cells]
        ys = [c["throughput"]["mean"] for c in cells]
        err = [c["throughput"]["ci95"] or 0.0 for c in cells]
        ax.errorbar(xs, ys, yerr=err, marker="o", color=color, capsize=3, label=name)
        p99 = [(c.get("latency_us") or {}).get("p99") for c in cells]
        ax2.plot(xs, [p / 1000.0 if p is not None else math.nan for p in p99], "--", marker="x", color=color, alpha=0.8)
        knee = max((c for c in cells if c.get("knee")), key=lambda c: c["concurrency"], default=None)
        if knee is not None:
            ax.plot([knee["concurrency"]], [knee["throughput"]["mean"]], "o", ms=14, mfc="none", mec=color, mew=2)
    unit = next(iter(lines.values()))[0]["throughput"]["unit"]
    ax.set_xscale("log", base=2)
    ticks = sorted({c["concurrency"] for cells in lines.values() for c in cells})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("concurrency (callers in parallel)")
    ax.set_ylabel(f"throughput, {unit} (solid, CI95)")
    ax2.set_ylabel("p99 latency, ms (dashed)")
    ax.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        _title(key) + (f" -- {SOFTWARE}" if soft else "") + "\n(circle: knee, best throughput within the p99 budget)",
        fontsize=9,
    )
    data = _png(fig)
    plt.close(fig)
    return data


def latency_chart(
    key: tuple[str, ...], lines: dict[tuple[str, str], list[dict[str, Any]]], several: bool, soft: bool
) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    drawn = 0
    for (run, label), cells in sorted(lines.items()):
        for c in sorted(cells, key=lambda c: c["concurrency"]):
            if not c.get("histogram") or drawn >= 12:
                continue
            h = Histogram.from_json(c["histogram"])
            pts = [(f, us) for us, f in h.points()]
            xs = [1.0 / max(1.0 - f, 0.5 / h.count) for f, _ in pts]
            name = ", ".join(p for p in ((run if several else ""), label, f"x{c['concurrency']}") if p)
            ax.step(xs, [us / 1000.0 for _, us in pts], where="post", label=name)
            drawn += 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [2, 10, 100, 1000, 10000]
    ax.set_xticks(ticks, ["p50", "p90", "p99", "p99.9", "p99.99"])
    ax.set_xlim(1, 20000)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency, ms")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("latency distribution: " + _title(key) + (f" -- {SOFTWARE}" if soft else ""), fontsize=9)
    data = _png(fig)
    plt.close(fig)
    return data


def figures(runs: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, bytes]]:
    """(file name, caption, PNG) for every chart of these runs, curve and distribution per group."""
    _mark_knees(runs)
    several, soft = len(runs) > 1, _software(runs)
    out = []
    for key, lines in sorted(_groups(runs).items()):
        out.append((f"{_slug(key)}-curve.png", f"{_title(key)}: throughput and p99 against concurrency",
                    curve_chart(key, lines, several, soft)))  # fmt: skip
        out.append((f"{_slug(key)}-latency.png", f"{_title(key)}: latency distribution",
                    latency_chart(key, lines, several, soft)))  # fmt: skip
    return out


def _mark_knees(runs: list[tuple[str, dict[str, Any]]]) -> None:
    """Flag the cell at each curve's knee (``knee`` key, not written back to any file)."""
    for _, run in runs:
        for curve in run.get("curves", []):
            knee = curve.get("knee")
            if not knee:
                continue
            for c in run["cells"]:
                if c["concurrency"] == knee["concurrency"] and all(c.get(k) == v for k, v in curve["group"].items()):
                    c["knee"] = True
