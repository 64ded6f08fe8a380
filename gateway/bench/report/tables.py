"""Plain-text tables of a run, for the terminal and for Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SOFTWARE_NOTE = "software token (SoftHSM2): figures show the host CPU, not an HSM"


def latency(us: float | None) -> str:
    """Microseconds in the unit that reads best: 17.0 us, 1.37 ms, 2.10 s."""
    if us is None:
        return ""
    if us < 1000:
        return f"{us:.1f} us"
    if us < 1_000_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1e6:.2f} s"


def rate(cell: dict[str, Any]) -> str:
    t = cell["throughput"]
    if t["mean"] is None or cell["status"] != "ok":
        return ""
    text = f"{t['mean']:,.0f}"
    if t.get("ci95"):
        text += f" ±{t['ci95']:,.0f}"
    return text


def _bytes(cell: dict[str, Any]) -> str:
    b = cell.get("bytes_per_s")
    return "" if not b or b["mean"] is None else f"{b['mean'] / 1e6:,.1f}"


def _lat(cell: dict[str, Any], q: str) -> str:
    return latency((cell.get("latency_us") or {}).get(q))


def _cpu(cell: dict[str, Any]) -> str:
    cpu = cell.get("client_cpu")
    if not cpu:
        return ""
    return f"{cpu['cores_used']:.2f}" + (" bound" if cpu["bound"] else "")


def _eff(cell: dict[str, Any]) -> str:
    eff = cell.get("scaling_efficiency")
    return "" if eff is None else f"{eff:.2f}"


def _errors(cell: dict[str, Any]) -> str:
    if not cell["error_count"]:
        return "0"
    top = sorted(cell["errors"].items(), key=lambda kv: -kv[1])[:2]
    return f"{cell['error_count']} (" + ", ".join(f"{k} {v}" for k, v in top) + ")"


def _status(cell: dict[str, Any]) -> str:
    if cell["status"] == "ok":
        return cell.get("note", "")
    return f"{cell['status']}: {cell['reason']}"


def p11_rows(cells: Sequence[dict[str, Any]]) -> list[list[str]]:
    header = ["mechanism", "key", "payload", "conc", "ops/s", "MB/s", "p50", "p99", "p99.9", "max", "errors",
              "cpu cores", "scaling", "notes"]  # fmt: skip
    rows = [header]
    for c in cells:
        payload = f"{c['payload']} B" if c.get("payload_applies") else "-"
        rows.append([
            c["mechanism"], c["key"], payload, str(c["concurrency"]), rate(c), _bytes(c), _lat(c, "p50"),
            _lat(c, "p99"), _lat(c, "p999"), _lat(c, "max"), _errors(c), _cpu(c), _eff(c), _status(c),
        ])  # fmt: skip
    return rows


def _split(cell: dict[str, Any]) -> str:
    split = cell.get("time_split_ms")
    if not split:
        return ""
    names = (("client_transport", "client+net"), ("gateway", "gateway"), ("token", "token"))
    parts = [f"{name} {split[key]:.2f}" for key, name in names if split.get(key) is not None]
    return " / ".join(parts)


def gateway_rows(cells: Sequence[dict[str, Any]]) -> list[list[str]]:
    header = ["transport", "operation", "mode", "workers", "conc", "rate", "unit", "p50", "p99", "p99.9", "errors",
              "x raw", "ms: client+net / gateway / token", "client cpu", "notes"]  # fmt: skip
    rows = [header]
    for c in cells:
        mode = c["mode"]
        if c.get("batch_size"):
            mode += f" {c['batch_size']}"
        if c.get("rate"):
            mode += f" @{c['rate']:g}/s"
        x_raw = "" if c.get("x_raw") is None else f"{c['x_raw']:.3g}"
        rows.append([
            c["transport"], c["operation"], mode, str(c.get("workers") or ""), str(c["concurrency"]), rate(c),
            c["throughput"]["unit"] if c["status"] == "ok" else "",
            _lat(c, "p50"), _lat(c, "p99"), _lat(c, "p999"), _errors(c), x_raw, _split(c),
            _cpu(c), _status(c),
        ])  # fmt: skip
    return rows


def render(rows: list[list[str]]) -> str:
    """Aligned columns; the last column is left free (notes run as long as they need)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for n, row in enumerate(rows):
        cells = [c.rjust(widths[i]) if _numeric(rows, i) else c.ljust(widths[i]) for i, c in enumerate(row[:-1])]
        out.append("  ".join([*cells, row[-1]]).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(out)


def _numeric(rows: list[list[str]], i: int) -> bool:
    values = [r[i] for r in rows[1:] if r[i]]
    return bool(values) and all(v[:1].isdigit() for v in values)


def heading(run: dict[str, Any], name: str = "") -> list[str]:
    """Who measured what on which machine, and the software-token label when it applies."""
    env = run["environment"]
    lines = [f"{name or run['kind']}: kmsgw bench {run['kind']}, {run['created']}"]
    token = env.get("token") or {}
    if token:
        lines.append(
            f"token: {token.get('manufacturer', '?')} {token.get('model', '?')} firmware "
            f"{token.get('firmware_version', '?')}, label {token.get('label', '?')}, max sessions "
            f"{token.get('max_sessions', '?')}; module {env.get('module', {}).get('path', '?')}"
        )
    if run.get("software_token"):
        lines.append(f"NOTE: {SOFTWARE_NOTE}")
    load = env.get("load_average_start")
    lines.append(
        f"machine: {env.get('cpu')}, {env.get('cores_usable')} cores, load {load} at start, "
        f"{env.get('load_average_end')} at end; {env.get('python')}"
    )
    return lines


def run_text(run: dict[str, Any], name: str = "") -> str:
    raw = [c for c in run["cells"] if c["layer"] == "p11"]
    gw = [c for c in run["cells"] if c["layer"] == "gateway"]
    parts = heading(run, name)
    if gw:
        parts += ["", "through the gateway:" if raw else "", render(gateway_rows(gw))]
    if raw:
        parts += ["", "raw token (bench p11):" if gw else "", render(p11_rows(raw))]
    parts = [p for i, p in enumerate(parts) if p or i == 0 or parts[i - 1]]
    knees = [c for c in run.get("curves", []) if c.get("knee") and len(c["points"]) > 1]
    if knees:
        parts += ["", "knees (highest throughput with p99 within budget):"]
        for curve in knees:
            group = ", ".join(f"{k}={v}" for k, v in curve["group"].items() if v not in (None, ""))
            k = curve["knee"]
            parts.append(
                f"  {group}: concurrency {k['concurrency']}, {k['throughput']:,.0f}/s, p99 {latency(k['p99_us'])} "
                f"(budget {latency(curve['p99_budget_us'])})"
            )
    return "\n".join(parts)
