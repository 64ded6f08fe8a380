"""One self-contained HTML page: the runs' environments, tables, comparison, and charts (PNG inline)."""

from __future__ import annotations

import base64
import html
from typing import Any

from gateway.bench.report.tables import SOFTWARE_NOTE, gateway_rows, p11_rows

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}
.soft{background:#fff3cd;border:1px solid #e0c060;padding:0.5em 1em}
.bad{color:#a00;font-weight:bold} figure{display:inline-block;margin:0.5em} figcaption{font-size:12px}
"""


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _environment(run: dict[str, Any]) -> str:
    env = run["environment"]
    token = env.get("token") or {}
    module = env.get("module") or {}
    pairs = [
        ("created", run["created"]), ("command", " ".join(run["command"])), ("CPU", env.get("cpu")),
        ("cores usable", env.get("cores_usable")),
        ("load average at start / end", f"{env.get('load_average_start')} / {env.get('load_average_end')}"),
        ("kernel", env.get("kernel")), ("Python", env.get("python")), ("packages", env.get("packages")),
        ("module", f"{module.get('path', '')} sha256 {module.get('sha256', '')[:16]}" if module else ""),
        ("token", ", ".join(f"{k} {token.get(k)}" for k in ("manufacturer", "model", "firmware_version", "label",
                                                            "max_sessions") if token.get(k) is not None)),
        ("gateway", env.get("gateway")),
    ]  # fmt: skip
    return _table([["", ""], *[[k, str(v)] for k, v in pairs if v not in (None, "", {})]])


def page(
    runs: list[tuple[str, dict[str, Any]]],
    figures: list[tuple[str, str, bytes]],
    comparison: list[list[str]] | None,
    problems: list[str],
) -> str:
    parts = [f"<!doctype html><meta charset=utf-8><title>kmsgw bench report</title><style>{_STYLE}</style>",
             "<h1>kmsgw bench report</h1>"]  # fmt: skip
    if any(run.get("software_token") for _, run in runs):
        parts.append(f'<p class="soft"><b>Software token.</b> {html.escape(SOFTWARE_NOTE)}.</p>')
    if problems:
        parts.append(
            "<h2 class=bad>Problems</h2><ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in problems) + "</ul>"
        )
    if comparison:
        parts += ["<h2>Comparison with the baseline</h2>", _table(comparison)]
    for name, run in runs:
        parts.append(f"<h2>{html.escape(name)} ({html.escape(run['kind'])})</h2>")
        parts.append(_environment(run))
        gw = [c for c in run["cells"] if c["layer"] == "gateway"]
        raw = [c for c in run["cells"] if c["layer"] == "p11"]
        if gw:
            parts += ["<h3>Through the gateway</h3>", _table(gateway_rows(gw))]
        if raw:
            parts += ["<h3>Raw token</h3>", _table(p11_rows(raw))]
    if figures:
        parts.append("<h2>Charts</h2>")
        for fname, caption, png in figures:
            data = base64.b64encode(png).decode()
            label = html.escape(caption)
            parts.append(f'<figure><img alt="{label}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{label} ({html.escape(fname)})</figcaption></figure>")  # fmt: skip
    return "\n".join(parts) + "\n"
