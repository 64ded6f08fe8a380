"""The console table and ``RESULTS.md``: figures with the machine and command that produced them.

Absolute rates on a shared 2-core box are noisy; ratios between rows measured in the same run hold
better, so every row carries its ratio to the raw wrap rate and the interesting cross-ratios are
listed under the table.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.harness import BASELINE, Outcome, Result


@dataclass(frozen=True)
class Ratio:
    label: str
    numerator: str  # scenario names
    denominator: str
    figure: str = "rate"  # or "p99_ms", "p50_ms"


RATIOS: list[Ratio] = [
    Ratio("raw wrap, 2 processes / 1 process", "raw.wrap_2proc", "raw.wrap"),
    Ratio("raw wrap, session copy of the key / token key", "raw.wrap_session_copy", "raw.wrap"),
    Ratio("raw wrap, session copy, 2 processes / 1 process", "raw.wrap_session_copy_2proc",
          "raw.wrap_session_copy"),
    Ratio("raw C_GenerateRandom(32) / raw wrap", "raw.random32", "raw.wrap"),
    Ratio("gRPC echo ceiling / raw wrap", "grpc.echo", "raw.wrap"),
    Ratio("gRPC echo 64 in flight / 1 in flight", "grpc.echo", "grpc.echo_c1"),
    Ratio("moto GenerateDataKey / raw wrap", "moto.generate_data_key", "raw.wrap"),
    Ratio("gRPC echo ceiling / moto GenerateDataKey", "grpc.echo", "moto.generate_data_key"),
    # Gateway rows: unsuffixed = `kmsgw serve --workers 2` (its default here), "_w1" = --workers 1.
    Ratio("gateway unary CreateDataKey / gRPC echo ceiling (2 workers)", "gateway.grpc_create_datakey",
          "grpc.echo"),
    Ratio("gateway unary CreateDataKey / gRPC echo ceiling (1 worker)", "gateway.grpc_create_datakey_w1",
          "grpc.echo"),
    Ratio("gateway unary CreateDataKey / moto (2 workers)", "gateway.grpc_create_datakey", "moto.generate_data_key"),
    Ratio("gateway unary DecryptDataKey / gRPC echo ceiling (2 workers)", "gateway.grpc_decrypt_datakey",
          "grpc.echo"),
    Ratio("gateway unary DecryptDataKey / gRPC echo ceiling (1 worker)", "gateway.grpc_decrypt_datakey_w1",
          "grpc.echo"),
    Ratio("gateway batched pairs (2 workers) / raw wrap (1 process)", "gateway.grpc_batch_pairs", "raw.wrap"),
    Ratio("gateway batched pairs (1 worker) / raw wrap (1 process)", "gateway.grpc_batch_pairs_w1", "raw.wrap"),
    Ratio("gateway batched pairs (2 workers) / raw wrap (2 processes)", "gateway.grpc_batch_pairs",
          "raw.wrap_2proc"),
    Ratio("gateway batched pairs, 2 workers / 1 worker", "gateway.grpc_batch_pairs", "gateway.grpc_batch_pairs_w1"),
    Ratio("gateway REST create-datakey / moto (2 workers)", "gateway.rest_create_datakey", "moto.generate_data_key"),
    Ratio("gateway REST create-datakey / moto (1 worker)", "gateway.rest_create_datakey_w1",
          "moto.generate_data_key"),
    Ratio("gateway REST / gRPC unary CreateDataKey (2 workers)", "gateway.rest_create_datakey",
          "gateway.grpc_create_datakey"),
    Ratio("AWS KMS API GenerateDataKey / moto (2 workers)", "aws.generate_data_key", "moto.generate_data_key"),
    Ratio("AWS KMS API Decrypt / moto GenerateDataKey (2 workers)", "aws.decrypt", "moto.generate_data_key"),
    Ratio("AWS KMS API / REST create-datakey (2 workers)", "aws.generate_data_key", "gateway.rest_create_datakey"),
    Ratio("boto3 loop: gateway / moto", "aws.boto3_generate_data_key", "aws.boto3_generate_data_key_moto"),
    Ratio("gateway p99 at 500 req/s / echo p99 at 500 req/s (2 workers)", "gateway.p99_at_500rps",
          "grpc.echo_500rps", "p99_ms"),
    Ratio("gateway p99 at 500 req/s / echo p99 at 500 req/s (1 worker)", "gateway.p99_at_500rps_w1",
          "grpc.echo_500rps", "p99_ms"),
]  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A goal from the issue, checked against this run's rows.

    ``denominator`` None: ``figure`` of ``numerator`` is compared as an absolute value; ``extra``
    names a figure of ``Result.extra`` instead of a field.
    """

    label: str
    numerator: str
    denominator: str | None
    threshold: float
    at_least: bool = True  # measured >= threshold; False: measured < threshold
    figure: str = "rate"  # of both rows (the numerator's is replaced by ``extra`` when given)
    extra: str | None = None
    zero_errors: bool = False
    unit: str = "x"


def _targets() -> list[Target]:
    out: list[Target] = []
    for sfx, who in (("", "2 workers"), ("_w1", "1 worker")):
        out += [
            Target(f"batched data-key pairs/s >= 0.5 x raw one-thread wrap ({who})",
                   f"gateway.grpc_batch_pairs{sfx}", "raw.wrap", 0.5),
            Target(f"(other reading: pair = plaintext + ciphertext of BatchCreateDataKey) >= 0.5 x raw ({who})",
                   f"gateway.grpc_batch_pairs{sfx}", "raw.wrap", 0.5, extra="BatchCreateDataKey alone, keys/s"),
            Target(f"unary CreateDataKey >= 0.8 x gRPC echo ({who})",
                   f"gateway.grpc_create_datakey{sfx}", "grpc.echo", 0.8),
            Target(f"REST create-datakey >= 20 x moto GenerateDataKey, zero errors ({who})",
                   f"gateway.rest_create_datakey{sfx}", "moto.generate_data_key", 20.0, zero_errors=True),
            Target(f"p99 unary CreateDataKey < 2 ms at 500 req/s open loop ({who})",
                   f"gateway.p99_at_500rps{sfx}", None, 2.0, at_least=False, figure="p99_ms", zero_errors=True,
                   unit=" ms"),
        ]  # fmt: skip
    out.append(
        Target("AWS KMS API GenerateDataKey >= 20 x moto GenerateDataKey, zero errors (2 workers)",
               "aws.generate_data_key", "moto.generate_data_key", 20.0, zero_errors=True)
    )  # fmt: skip
    out.append(
        Target("resident memory growth < 5 % over the soak (2 workers; the issue asks 10 min)", "gateway.soak_rss",
               None, 5.0, at_least=False, extra="RSS growth, %", unit=" %")
    )  # fmt: skip
    for transport in ("gRPC", "REST"):  # the serving model: neither transport starves the other
        out.append(
            Target(f"mixed load: {transport} keeps >= 0.45 of its solo rate beside the other (2 workers)",
                   "gateway.mixed_fairness", None, 0.45, extra=f"mixed: {transport} fraction of solo", zero_errors=True)
        )  # fmt: skip
    out.append(
        Target("mixed load: the two fractions of solo within 1.5 x of each other (2 workers)", "gateway.mixed_fairness",
               None, 1.5, at_least=False, extra="mixed: fraction spread (larger / smaller)")
    )  # fmt: skip
    return out


TARGETS: list[Target] = _targets()
PROFILE_SCENARIO = "gateway.profile_create_datakey"
ANALYSIS_FILE = Path(__file__).resolve().parent / "ANALYSIS.md"  # hand-written reading of the profile


# --------------------------------------------------------------------------------------------
# Machine facts


def _run(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "not installed"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def _dist(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict[str, str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "CPU": _cpu_model(),
        "Cores": f"{os.cpu_count()} online, {len(os.sched_getaffinity(0))} usable by this run",
        "Memory": _memory(),
        "Kernel": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "softhsm2 (dpkg)": _run(["dpkg-query", "-W", "-f=${Version}", "softhsm2"]),
        "wrk (dpkg)": _run(["dpkg-query", "-W", "-f=${Version}", "wrk"]),
        "python-pkcs11 / grpcio / moto": f"{_dist('python-pkcs11')} / {_dist('grpcio')} / {_dist('moto')}",
        "Load average at start": load,
    }


# --------------------------------------------------------------------------------------------
# Formatting


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _ratio_to_baseline(result: Result, baseline: Result | None) -> str:
    if baseline is None or not baseline.rate or not result.unit.endswith("/s"):
        return "n/a"
    return f"{result.rate / baseline.rate:.3g}"


def _rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    results = {o.scenario.name: o.result for o in outcomes if o.result}
    baseline = results.get(BASELINE)
    rows = []
    for o in outcomes:
        r = o.result
        if r is None:
            rows.append([o.scenario.name, o.status, "", "", "", "", "", o.reason.splitlines()[0][:80]])
            continue
        rows.append([
            o.scenario.name, _num(r.rate, 0), r.unit, _ratio_to_baseline(r, baseline),
            _num(r.p50_ms), _num(r.p99_ms), str(r.errors), r.notes,
        ])  # fmt: skip
    return rows


SOFTWARE_TOKEN_NOTE = (
    "**Software token.** The token is SoftHSM2, a software token: the raw rows, and the token's share of "
    "every gateway row, are the host CPU's figures, not an HSM's (`kmsgw bench p11` measures a real one)."
)
HEADER = ["scenario", "rate", "unit", "x raw wrap", "p50 ms", "p99 ms", "errors", "notes"]


def ratio_lines(outcomes: Sequence[Outcome]) -> list[str]:
    results = {o.scenario.name: o.result for o in outcomes if o.result}
    lines = []
    for ratio in RATIOS:
        num, den = results.get(ratio.numerator), results.get(ratio.denominator)
        a = getattr(num, ratio.figure, None) if num else None
        b = getattr(den, ratio.figure, None) if den else None
        if a is None or b is None or not b:
            missing = ratio.numerator if a is None else ratio.denominator
            lines.append(f"{ratio.label}: n/a ({missing} not measured)")
        else:
            lines.append(f"{ratio.label}: {a / b:.3g}")
    return lines


def _figure(result: Result, target: Target, *, numerator: bool) -> float | None:
    if numerator and target.extra is not None:
        return result.extra.get(target.extra)
    value = getattr(result, target.figure, None)
    return None if value is None else float(value)


def target_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """[target, measured, needed, verdict] for every target whose rows this run measured."""
    results = {o.scenario.name: o.result for o in outcomes if o.result}
    rows = []
    for t in TARGETS:
        num = results.get(t.numerator)
        den = results.get(t.denominator) if t.denominator else None
        if num is None or (t.denominator and den is None):
            continue
        a = _figure(num, t, numerator=True)
        b = _figure(den, t, numerator=False) if den is not None else 1.0
        if a is None or not b:
            continue
        measured = a / b
        need = f"{'>=' if t.at_least else '<'} {t.threshold:g}{t.unit}"
        ok = measured >= t.threshold if t.at_least else measured < t.threshold
        if ok and t.zero_errors and num.errors:
            verdict = f"**missed**: {num.errors} errors"
        elif ok:
            verdict = "met"
        elif t.at_least:
            short = 100 * (t.threshold - measured) / t.threshold
            verdict = f"**missed** by {short:.0f} % (needs {t.threshold / measured:.2f}x)"
        else:
            verdict = f"**missed**: {measured / t.threshold:.2f}x the limit"
        if t.zero_errors and num.errors and verdict.startswith("**missed** by"):
            verdict += f", and {num.errors} errors"
        shown = f"{measured:.3g}{t.unit}"
        rows.append([t.label, shown, need, verdict])
    return rows


def console_table(outcomes: Sequence[Outcome]) -> str:
    rows = [HEADER, *_rows(outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    right = {1, 3, 4, 5, 6}
    out = []
    for n, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        out.append("  ".join([*cells, row[-1]]))
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  -----")
    out.append("")
    out.append(SOFTWARE_TOKEN_NOTE.replace("**", ""))
    out.append("")
    out.append(f"ratios (same run, '{BASELINE}' = the HSM limit):")
    out.extend(f"  {line}" for line in ratio_lines(outcomes))
    targets = target_rows(outcomes)
    if targets:
        out += ["", "targets:"]
        out += [f"  {label}: {measured} (need {need}) -> {verdict.replace('**', '')}"
                for label, measured, need, verdict in targets]  # fmt: skip
    return "\n".join(out)


def busy_warning(facts: dict[str, str]) -> list[str]:
    """A loud line when other work was already loading the machine: the figures are then depressed."""
    load = float(facts.get("Load average at start", "0").split(",")[0])
    cores = os.cpu_count() or 1
    if load <= 0.5 * cores:
        return []
    return [
        f"> **Busy machine:** 1-minute load average {load:.2f} on {cores} cores before the run started "
        "(other processes were running); expect every rate here to be depressed. Rerun on a quiet machine "
        "before comparing with other runs.",
        "",
    ]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_results_md(
    path: Path, outcomes: Sequence[Outcome], facts: dict[str, str], started: dt.datetime, seconds: float
) -> None:
    cores = os.cpu_count() or 0
    titles = {o.scenario.name: o.scenario.title for o in outcomes}
    lines = [
        "# Benchmark results",
        "",
        "Written by the benchmark harness (`benchmarks/`); rerun it rather than editing this file.",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- Command: `{shlex.join(sys.orig_argv)}` (from the repository root)",
        f"- Measured window: {seconds:g} s per scenario, after a short untimed warm-up",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {_md_escape(v)} |" for k, v in facts.items()),
        "",
        f"> Only {cores} cores: every load generator (wrk, the gRPC client) and every server it measures "
        "share them, so each rate is a lower bound of what the server alone could do. Absolute figures "
        "move with the machine's load; the ratios between rows of one run hold better.",
        "",
        *busy_warning(facts),
        f"> {SOFTWARE_TOKEN_NOTE}",
        "",
        "## Results",
        "",
        "| scenario | what | rate | unit | x raw wrap | p50 ms | p99 ms | errors | notes |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in _rows(outcomes):
        name, rest = row[0], [_md_escape(c) for c in row[1:]]
        lines.append(f"| `{name}` | {_md_escape(titles[name])} | " + " | ".join(rest) + " |")
    lines += ["", f"`x raw wrap` = the row's rate / the rate of `{BASELINE}` (the HSM limit).", ""]
    lines += ["## Ratios", "", *(f"- {line}" for line in ratio_lines(outcomes)), ""]
    targets = target_rows(outcomes)
    if targets:
        lines += [
            "## Targets",
            "",
            "From the issue; computed from the rows above (rows without a suffix: `--workers 2`, `_w1`: "
            "`--workers 1`).",
            "",
            "| target | measured | needed | verdict |",
            "| --- | ---: | --- | --- |",
            *(f"| {' | '.join(_md_escape(c) for c in row)} |" for row in targets),
            "",
        ]
        if any("missed" in row[3] for row in targets):
            lines += ["Where the time goes for the missed targets: see the next section.", ""]

    profiled = [o for o in outcomes if o.result and o.result.details]
    analysis = ANALYSIS_FILE.read_text().strip() if ANALYSIS_FILE.exists() else ""
    if profiled or analysis:
        lines += ["## Where the time goes", ""]
        if analysis:
            lines += [analysis, ""]
        for o in profiled:
            assert o.result is not None
            lines += [f"### This run's profile: `{o.scenario.name}`", "", o.result.details.strip(), ""]

    extras = [(o.scenario.name, k, v) for o in outcomes if o.result for k, v in o.result.extra.items()]
    if extras:
        lines += ["## Other figures", "", *(f"- `{n}` {k}: {v:,.2f}" for n, k, v in extras), ""]

    not_run = [o for o in outcomes if o.result is None]
    if not_run:
        lines += ["## Skipped or failed", ""]
        lines += [f"- `{o.scenario.name}` ({o.status}): {_md_escape(o.reason)}" for o in not_run]
        lines.append("")
    path.write_text("\n".join(lines))
