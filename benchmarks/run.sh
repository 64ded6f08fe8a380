#!/usr/bin/env bash
# Run the benchmark harness from the repository root; arguments go to `python -m benchmarks`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" -m benchmarks "$@"
