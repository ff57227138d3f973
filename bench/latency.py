"""
Latencies kept as counts in log-spaced buckets, 2 % wide: recording one is a dict increment,
and the counts of several generator processes merge exactly, which a list of percentiles
would not.
"""

from __future__ import annotations

import math
from collections import Counter

_STEP = math.log(1.02)


class Latencies:
    def __init__(self, buckets: dict[int, int] | None = None) -> None:
        self.buckets: Counter[int] = Counter(buckets or {})

    def record(self, seconds: float) -> None:
        microseconds = seconds * 1e6
        self.buckets[int(math.log(microseconds) / _STEP) if microseconds > 1 else 0] += 1

    def merge(self, other: "Latencies") -> "Latencies":
        self.buckets.update(other.buckets)
        return self

    @property
    def count(self) -> int:
        return sum(self.buckets.values())

    def percentile(self, q: float) -> float | None:
        """Seconds under which C{q} percent of the samples fall (the bucket's upper edge)."""
        total = self.count
        if not total:
            return None
        wanted = math.ceil(total * q / 100)
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= wanted:
                return math.exp((bucket + 1) * _STEP) / 1e6
        raise AssertionError("unreachable")

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in self.buckets.items()}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> "Latencies":
        return cls({int(k): v for k, v in data.items()})
