"""`kmsgw bench p11|gateway|report`: the benchmark engine's commands (gateway/bench, docs/benchmarking.md)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from gateway.bench.cli import register as register_bench

    register_bench(sub)
