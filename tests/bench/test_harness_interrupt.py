"""The project's benchmark harness (``python -m benchmarks``) stops on SIGTERM, whatever the
scenario under way does with the interrupt, and leaves RESULTS.md alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.bench.conftest import REPO


def test_sigterm_during_a_raw_row_ends_the_run() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}  # the harness provisions its own token
    argv = [sys.executable, "-m", "benchmarks", "--no-write", "--seconds", "5", "--only", "raw.wrap,raw.random32"]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # the first row has started: its worker pool is measuring
            if line.startswith("[raw.wrap]") or time.monotonic() > deadline:
                break
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert "[raw.random32]" not in err  # the next row never started
