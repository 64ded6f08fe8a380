"""The figures' arithmetic: histogram quantiles, merging, CI95, scaling efficiency and the knee."""

from __future__ import annotations

import random

from gateway.bench import result
from gateway.bench.stats import Histogram, bucket_bounds, bucket_of, mean_ci95, merged


def test_histogram_quantiles_are_within_the_bucket_resolution() -> None:
    rng = random.Random(7)
    values = sorted(int(rng.lognormvariate(10, 1.2)) for _ in range(50_000))
    h = Histogram()
    for v in values:
        h.record(v)
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = values[int(q * len(values)) - 1]
        assert abs(h.quantile_ns(q) - exact) <= 0.02 * exact + 1  # 64 sub-buckets per octave: 1.6 %
    assert h.max_ns == values[-1] and h.min_ns == values[0] and h.count == len(values)
    assert Histogram.from_json(h.to_json()).summary_us() == h.summary_us()


def test_buckets_cover_every_value_once_and_merge_exactly() -> None:
    for ns in (0, 1, 63, 64, 65, 127, 128, 1000, 10**6, 10**9, 10**11):
        low, high = bucket_bounds(bucket_of(ns))
        assert low <= ns < high
    a, b, both = Histogram(), Histogram(), Histogram()
    for i, v in enumerate(range(1000, 200_000, 97)):
        (a if i % 2 else b).record(v)
        both.record(v)
    assert merged([a, b]).to_json() == both.to_json()


def test_ci95_over_repeats() -> None:
    stat = mean_ci95([100.0, 102.0, 98.0])
    assert stat["mean"] == 100.0 and round(stat["ci95"], 3) == round(4.303 * 2.0 / 3**0.5, 3)
    assert mean_ci95([5.0])["ci95"] is None


def _cell(concurrency: int, rate: float, p99_us: float) -> dict:
    h = Histogram()
    for _ in range(99):
        h.record(int(p99_us * 500))
    h.record(int(p99_us * 1000))
    return result.cell(f"p11/x/32B/c{concurrency}", {"layer": "p11", "mechanism": "x", "payload": 32,
                       "concurrency": concurrency, "model": "processes"}, rates=[rate], histogram=h)  # fmt: skip


def test_scaling_efficiency_and_the_knee() -> None:
    """Throughput flattens past 2 callers while p99 explodes: the knee is where p99 stays in budget."""
    cells = [_cell(1, 37_700, 67), _cell(2, 75_000, 90), _cell(4, 74_000, 4000)]
    [curve] = result.curves(cells, ("mechanism", "payload", "model"), None)
    assert [c["scaling_efficiency"] for c in cells] == [
        1.0,
        round(75_000 / 37_700 / 2, 3),
        round(74_000 / 37_700 / 4, 3),
    ]
    assert curve["knee"]["concurrency"] == 2
    assert curve["p99_budget_us"] == 5 * cells[0]["latency_us"]["p99"]
    [strict] = result.curves(cells, ("mechanism", "payload", "model"), 10.0)
    assert strict["knee"] is None  # nothing meets a 10 us budget
