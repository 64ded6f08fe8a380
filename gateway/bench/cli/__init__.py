"""``kmsgw bench p11|gateway|report``: argument parsing and the handlers behind the three commands."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from gateway.bench.cli import gateway as gw_cmd
    from gateway.bench.cli import p11 as p11_cmd
    from gateway.bench.cli import report as report_cmd

    bench = sub.add_parser(
        "bench",
        help="benchmark a PKCS#11 token (p11), a gateway (gateway), and report or compare results (report)",
        description="Benchmarks with curves: throughput and latency against concurrency, JSON results "
        "(schema kmsgw.bench/1), HTML reports with plots. See docs/benchmarking.md.",
    )
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    p11_cmd.register(bench_sub)
    gw_cmd.register(bench_sub)
    report_cmd.register(bench_sub)
