"""Summary statistics the benchmark tables share."""
from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The value at quantile q (0..1) of `values`, nearest rank: a measured time, not an interpolation."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]
