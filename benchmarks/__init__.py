"""Benchmark harness: the gateway's hot path against the raw PKCS#11 rate and a peer, in one run.

Run ``python -m benchmarks`` from the repository root (``--help`` for flags). Every scenario is a
function registered in :mod:`benchmarks.harness`; the runner prints a table and writes
``benchmarks/RESULTS.md``.
"""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
