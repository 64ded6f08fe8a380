"""``python -m benchmarks``: run the scenarios, print the table, write ``benchmarks/RESULTS.md``.

One command so that the gateway, the HSM limit and the peer are measured in the same run on the
same machine state: only then are their ratios meaningful.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

from benchmarks import BENCH_DIR
from benchmarks.harness import REGISTRY, Context, Outcome, Scenario, Skip
from benchmarks.report import busy_warning, console_table, machine_facts, write_results_md
from benchmarks.scenarios import GROUP_ORDER

SOAK_SCENARIO = "gateway.soak_rss"
LONG_SOAK_SECONDS = 600.0  # the 10-minute soak: only when asked for
SHORT_SOAK_SECONDS = 60.0  # what a default full run does instead (said so in the row's notes)


def _ordered() -> list[Scenario]:
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    names = list(REGISTRY)
    return sorted(REGISTRY.values(), key=lambda s: (rank.get(s.group, len(rank)), names.index(s.name)))


def _selected(patterns: list[str]) -> list[Scenario]:
    """``--only`` keeps a scenario whose name, group, or a glob (``raw.*``) matches any pattern."""
    wanted = [p for arg in patterns for p in arg.split(",") if p]
    chosen = [
        s for s in _ordered()
        if not wanted or any(p in (s.name, s.group) or fnmatch.fnmatch(s.name, p) for p in wanted)
    ]  # fmt: skip
    if not chosen:
        raise SystemExit(f"--only {','.join(wanted)} matches no scenario; see --list")
    return chosen


def run_one(ctx: Context, scenario: Scenario) -> Outcome:
    """Run a scenario, turning None / Skip / NotImplementedError into "skipped" and errors into "failed"."""
    start = time.monotonic()
    print(f"[{scenario.name}] {scenario.title} ...", file=sys.stderr, flush=True)
    try:
        with ctx.scenario_scope():
            result = scenario.fn(ctx)
    except (Skip, NotImplementedError) as exc:
        outcome = Outcome(scenario, "skipped", reason=str(exc) or type(exc).__name__)
    except Exception as exc:
        detail = traceback.format_exc(limit=3) if not str(exc) else str(exc)
        outcome = Outcome(scenario, "failed", reason=f"{type(exc).__name__}: {detail}")
    else:
        if result is None:
            outcome = Outcome(scenario, "skipped", reason="scenario returned no result")
        else:
            outcome = Outcome(scenario, "ok", result=result)
            ctx.results[scenario.name] = result
    outcome.elapsed = time.monotonic() - start
    if outcome.result:
        r = outcome.result
        summary = f"{r.rate:,.0f} {r.unit}" + (f", p99 {r.p99_ms:.2f} ms" if r.p99_ms is not None else "")
    else:
        summary = f"{outcome.status}: {outcome.reason.splitlines()[0]}"
    print(f"    -> {summary} ({outcome.elapsed:.1f} s)", file=sys.stderr, flush=True)
    if outcome.status == "failed" and "\n" in outcome.reason:
        print(outcome.reason, file=sys.stderr)
    return outcome


def _write_engine_runs(ctx: Context, directory: Path) -> None:
    from gateway.bench.result import write_json

    runs = ctx.state.get("engine.runs") or []
    assert isinstance(runs, list)
    for i, run in enumerate(runs):
        write_json(run, directory / f"raw-{i:02d}-{run['cells'][0]['mechanism'].replace(':', '')}.json")
    print(f"wrote {len(runs)} engine result file(s) to {directory}", file=sys.stderr)


_interrupted = False  # set by a signal: the run ends after the scenario under way, whatever it caught


def _sigterm(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt  # unwind through every finally, so servers and workers are stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--seconds", type=float, help="measured seconds per scenario (default 5, 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="about 1 s per scenario: a smoke run")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run a subset: a scenario name, a group (raw, grpc, moto, gateway) or a glob; "
                        "repeat or comma-separate")  # fmt: skip
    parser.add_argument("--soak-seconds", type=float, metavar="N",
                        help="length of the gateway.soak_rss soak (default: 60 s in a full run, 600 s when "
                        "--only names gateway.soak_rss)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md", help="where to write the report")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (token, logs)")
    parser.add_argument("--engine-json", type=Path, metavar="DIR",
                        help="also write the engine's kmsgw.bench/1 documents of the raw rows here "
                        "(for kmsgw bench report)")  # fmt: skip
    args = parser.parse_args(argv)

    if args.list:
        for s in _ordered():
            summary = ((s.fn.__doc__ or "").strip().splitlines() or [""])[0]
            print(f"{s.name:32} {s.title}\n{'':32} {summary}")
        return 0
    scenarios = _selected(args.only)
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 5.0)
    if not 0 < seconds <= 600:
        parser.error("--seconds must be in (0, 600]")
    soak_named = any(p == SOAK_SCENARIO for arg in args.only for p in arg.split(","))
    if args.soak_seconds is not None:
        if not 10 <= args.soak_seconds <= 86400:
            parser.error("--soak-seconds must be in [10, 86400]")
        soak_seconds, soak_requested = args.soak_seconds, True
    elif soak_named:
        soak_seconds, soak_requested = LONG_SOAK_SECONDS, True
    else:
        soak_seconds, soak_requested = (15.0 if args.quick else SHORT_SOAK_SECONDS), False

    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, _sigterm)
    started = dt.datetime.now(dt.UTC)
    facts = machine_facts()  # before the load starts, so the load average means something
    workdir = Path(tempfile.mkdtemp(prefix="kmsgw-bench-"))
    ctx = Context(
        seconds=seconds, quick=args.quick, workdir=workdir, soak_seconds=soak_seconds, soak_requested=soak_requested
    )
    outcomes: list[Outcome] = []
    try:
        for s in scenarios:
            outcomes.append(run_one(ctx, s))
            if _interrupted:  # the interrupt landed in code that turned it into a failed row (a pool's pipe)
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("\ninterrupted: servers and workers stopped; partial table, RESULTS.md not written",
              file=sys.stderr)  # fmt: skip
        print(console_table(outcomes))
        return 130
    finally:
        if args.keep_workdir:
            print(f"workdir kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(console_table(outcomes))
    if args.engine_json:
        _write_engine_runs(ctx, args.engine_json)
    facts["Load average at end"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    for line in busy_warning(facts):
        print(line.removeprefix("> ").replace("**", ""), file=sys.stderr)
    if not args.no_write:
        write_results_md(args.out, outcomes, facts, started, seconds)
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
