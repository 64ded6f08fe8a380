"""Latency histograms and the small statistics every cell needs.

A log-linear histogram (64 linear sub-buckets per power of two, so any recorded value is known to
within 1.6 %) records every operation of a window at a fixed, small cost and merges exactly
across processes: percentiles up to p99.9 and the maximum come from the whole population, not a
sample. Values are integer nanoseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SUB_BITS = 6
SUB = 1 << SUB_BITS  # 64 sub-buckets per octave
BUCKETS = SUB * 42  # up to 2**41 ns (about 36 minutes)
SCHEME = "log-linear-64"


def bucket_of(ns: int) -> int:
    """The bucket index of a value in nanoseconds (exact below 64 ns)."""
    if ns < SUB:
        return max(0, ns)
    shift = ns.bit_length() - SUB_BITS - 1
    return min(BUCKETS - 1, (shift + 1) * SUB + (ns >> shift) - SUB)


def bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) in nanoseconds of a bucket."""
    if index < SUB:
        return index, index + 1
    shift = index // SUB - 1
    mantissa = SUB + index % SUB
    return mantissa << shift, (mantissa + 1) << shift


@dataclass
class Histogram:
    """Counts per bucket plus exact count, sum, min and max."""

    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    count: int = 0
    total_ns: int = 0
    min_ns: int = 0
    max_ns: int = 0

    def record(self, ns: int) -> None:
        self.counts[bucket_of(ns)] += 1
        self.count += 1
        self.total_ns += ns
        if ns > self.max_ns:
            self.max_ns = ns
        if self.count == 1 or ns < self.min_ns:
            self.min_ns = ns

    def merge(self, other: Histogram) -> None:
        if not other.count:
            return
        for i, c in enumerate(other.counts):
            if c:
                self.counts[i] += c
        self.min_ns = other.min_ns if not self.count else min(self.min_ns, other.min_ns)
        self.count += other.count
        self.total_ns += other.total_ns
        self.max_ns = max(self.max_ns, other.max_ns)

    def quantile_ns(self, q: float) -> float | None:
        """The q-quantile (0..1): the midpoint of the bucket holding it, clamped to [min, max]."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                low, high = bucket_bounds(i)
                return float(min(self.max_ns, max(self.min_ns, (low + high - 1) / 2)))
        return float(self.max_ns)

    def summary_us(self) -> dict[str, float | int | None]:
        """The latency block of a cell, in microseconds."""

        def us(value: float | None) -> float | None:
            return None if value is None else round(value / 1000.0, 3)

        return {
            "count": self.count,
            "mean": us(self.total_ns / self.count) if self.count else None,
            "min": us(self.min_ns) if self.count else None,
            "p50": us(self.quantile_ns(0.50)),
            "p90": us(self.quantile_ns(0.90)),
            "p99": us(self.quantile_ns(0.99)),
            "p999": us(self.quantile_ns(0.999)),
            "max": us(self.max_ns) if self.count else None,
        }

    def to_json(self) -> dict[str, object]:
        """Sparse form for the result file: only non-empty buckets."""
        return {
            "scheme": SCHEME,
            "count": self.count,
            "sum_ns": self.total_ns,
            "min_ns": self.min_ns,
            "max_ns": self.max_ns,
            "buckets": {str(i): c for i, c in enumerate(self.counts) if c},
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Histogram:
        if data.get("scheme") != SCHEME:
            raise ValueError(f"unknown histogram scheme {data.get('scheme')!r}")
        h = cls()
        buckets = data.get("buckets") or {}
        assert isinstance(buckets, dict)
        for key, c in buckets.items():
            h.counts[int(key)] = int(c)
        h.count = int(data["count"])  # type: ignore[call-overload]
        h.total_ns = int(data["sum_ns"])  # type: ignore[call-overload]
        h.min_ns = int(data["min_ns"])  # type: ignore[call-overload]
        h.max_ns = int(data["max_ns"])  # type: ignore[call-overload]
        return h

    def points(self) -> list[tuple[float, float]]:
        """(latency in µs, cumulative fraction) at each non-empty bucket: the distribution to plot."""
        out: list[tuple[float, float]] = []
        seen = 0
        for i, c in enumerate(self.counts):
            if c:
                seen += c
                out.append((bucket_bounds(i)[1] / 1000.0, seen / self.count))
        return out


# Two-sided 95 % Student t quantiles by degrees of freedom (1..30); 1.96 beyond.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def mean_ci95(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean and half-width of its 95 % confidence interval over repeats (None with one repeat)."""
    n = len(values)
    if not n:
        return {"mean": None, "ci95": None, "min": None, "max": None, "n": 0}
    mean = sum(values) / n
    ci: float | None = None
    if n > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
        ci = t * sd / math.sqrt(n)
    return {"mean": mean, "ci95": ci, "min": min(values), "max": max(values), "n": n}


def merged(histograms: Iterable[Histogram]) -> Histogram:
    out = Histogram()
    for h in histograms:
        out.merge(h)
    return out
