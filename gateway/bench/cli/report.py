"""``kmsgw bench report``: tables, CSV, an HTML page with charts, and a baseline comparison for CI.

Exit codes: 0 clean, 1 a regression beyond the threshold or a run with failed cells or errors,
2 a usage problem or a file that is not a ``kmsgw.bench/1`` result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.bench.cli import common
from gateway.bench.cli.common import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="tables, CSV, HTML with charts; --compare a baseline and fail on regressions (CI)",
        description="Reads kmsgw.bench/1 result files. Exit 0 clean, 1 regression or errors, 2 usage/invalid file.",
    )
    p.add_argument("files", nargs="*", type=Path, help="result files (JSON) to report; the first is 'this run'")
    p.add_argument("--compare", type=Path, metavar="BASE", help="baseline result file to compare the first file with")
    p.add_argument("--threshold", default="5%", help="throughput drop that counts as a regression (default 5%%)")
    p.add_argument("--p99-threshold", help="p99 rise that counts as a regression (default: not checked)")
    p.add_argument("--html", type=Path, metavar="OUT", help="write an HTML report with charts")
    p.add_argument("--plots-dir", type=Path, help="also write every chart as a PNG file here")
    p.add_argument("--csv", metavar="OUT", help="write every cell as CSV (- for stdout)")
    p.add_argument("--print-schema", action="store_true", help="print the result file's JSON Schema and exit")
    p.set_defaults(run=main)


def _percent(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise UsageError(f"{what}: expected a percentage such as 5%, got {text!r}") from None
    if not 0 <= value <= 1000:
        raise UsageError(f"{what}: must be in 0..1000 %")
    return value


def main(args: argparse.Namespace) -> int:
    from gateway.bench.report import compare as cmp
    from gateway.bench.report.tables import render, run_text
    from gateway.bench.schema import SCHEMA, InvalidResult

    if args.print_schema:
        print(json.dumps(SCHEMA, indent=1))
        return common.EXIT_OK
    try:
        if not args.files:
            raise UsageError("give at least one result file")
        threshold = _percent(args.threshold, "--threshold") or 0.0
        p99_threshold = _percent(args.p99_threshold, "--p99-threshold")
        names = [f.stem for f in args.files]
        names = names if len(set(names)) == len(names) else [str(f) for f in args.files]
        runs = [(n, cmp.load(f)) for n, f in zip(names, args.files, strict=True)]
        base = cmp.load(args.compare) if args.compare else None
    except (UsageError, InvalidResult) as exc:
        return common.fail(str(exc))
    out: list[str] = []
    for name, run in runs:
        out += [run_text(run, name), ""]
    problems = [f"{name}: {p}" for name, run in runs for p in cmp.problems(run)]
    comparison = None
    regressions = 0
    if base is not None:
        deltas = cmp.compare(base, runs[0][1], threshold, p99_threshold)
        comparison = cmp.delta_rows(deltas)
        regressions = sum(d.verdict == "regression" for d in deltas)
        limit = f"-{threshold:g} % throughput" + (f" or +{p99_threshold:g} % p99" if p99_threshold is not None else "")
        out += [f"comparison with {args.compare} (regression: {limit}):", render(comparison)]
    if problems:
        out += ["problems:", *(f"  {p}" for p in problems)]
    if args.csv:
        text = cmp.to_csv(runs)
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            Path(args.csv).write_text(text)
    if args.html or args.plots_dir:
        from gateway.bench.report.html import page
        from gateway.bench.report.plots import figures

        charts = figures(runs + ([(f"baseline {args.compare.stem}", base)] if base is not None else []))
        if args.plots_dir:
            args.plots_dir.mkdir(parents=True, exist_ok=True)
            for fname, _, png in charts:
                (args.plots_dir / fname).write_bytes(png)
        if args.html:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(page(runs, charts, comparison, problems))
    if args.csv != "-":
        print("\n".join(out).rstrip())
    if regressions:
        print(f"kmsgw: {regressions} regression(s) beyond the threshold", file=sys.stderr)
    if problems:
        print(f"kmsgw: {len(problems)} cell(s) failed or counted errors", file=sys.stderr)
    return common.EXIT_FAILED if regressions or problems else common.EXIT_OK
