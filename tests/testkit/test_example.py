"""examples/envelope-app's own suite, run as its developers would: plain, -n 2, and shared mode
(external mode against `kmsgw dev` is in test_dev.py).

The example is copied into pytester's directory and run by a child pytest with the example's own
pyproject.toml (its seed, its pythonpath); its tests use only the plugin's public fixtures. Its
suite holds the seeded-ciphertext, fault-injection (retry path) and clock (scheduled deletion) tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "envelope-app"
TESTS = 15  # the example's test count (test_seeded parametrizes one test over two records)


@pytest.fixture
def example(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A child pytest in pytester's directory (the example's copy); no gateway of it may outlive it."""
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=240)
    assert processes_under(pytester.path) == [], "a gateway outlived its test run"
    return result


def processes_under(path: Path) -> list[int]:
    """Processes whose command line names a path below ``path`` (a `kmsgw dev` child's --data-dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and str(path) in cmdline and "gateway dev" in cmdline:
            found.append(int(proc.name))
    return found


def test_the_example_suite_passes(example: pytest.Pytester) -> None:
    run(example).assert_outcomes(passed=TESTS)


def test_the_example_suite_passes_with_two_workers(example: pytest.Pytester) -> None:
    run(example, "-n", "2").assert_outcomes(passed=TESTS)


def test_the_example_suite_passes_with_one_gateway_shared_by_the_workers(example: pytest.Pytester) -> None:
    """Shared mode: one gateway for both workers (their clock and fault tests get one of their own)."""
    result = run(example, "-n", "2", "--kmsgw-shared")
    result.assert_outcomes(passed=TESTS)
    shared = list(Path(example.path).glob("runpytest-[0-9]*/kmsgw-shared"))
    assert len(shared) == 1 and (shared[0] / "gateway.log").exists()  # the workers' one gateway ran here
    assert not (shared[0] / "state.json").exists()  # and the controller stopped it
