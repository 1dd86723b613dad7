"""Deterministic, category-balanced subsets for `collect(..., limit=n)`.

Taking the first n files of a sorted tree would give n pictures of one folder
(openclipart's first 300 ids are all animals). Instead each group (top folder)
gets an equal share of the limit; groups smaller than their share give the rest
to the others (water-filling). Inside a group the picks are evenly spaced over
its id-sorted members, so sub-folders are covered too. No randomness: the same
tree and limit always give the same subset, so fingerprints are reproducible.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def balanced_quotas(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """How many members each group contributes; sums to min(limit, total)."""
    quotas = {name: 0 for name in sizes}
    open_groups = [name for name in sorted(sizes) if sizes[name] > 0]
    remaining = max(0, limit)
    while remaining > 0 and open_groups:
        share = max(1, remaining // len(open_groups))
        for name in list(open_groups):
            if remaining == 0:
                break
            add = min(share, sizes[name] - quotas[name], remaining)
            quotas[name] += add
            remaining -= add
            if quotas[name] == sizes[name]:
                open_groups.remove(name)
    return quotas


def evenly_spaced(n: int, k: int) -> list[int]:
    """k distinct indices spread over range(n), centred in each of k equal strides."""
    k = min(k, n)
    return [(2 * i + 1) * n // (2 * k) for i in range(k)]


def spread_sample(members: Sequence[T], limit: int, group: Callable[[T], str]) -> list[T]:
    """A balanced subset of `members` (assumed sorted), returned in their original order."""
    if limit >= len(members):
        return list(members)
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(members):
        groups.setdefault(group(m), []).append(i)
    quotas = balanced_quotas({g: len(idx) for g, idx in groups.items()}, limit)
    picked: list[int] = []
    for g, idx in groups.items():
        picked.extend(idx[j] for j in evenly_spaced(len(idx), quotas[g]))
    return [members[i] for i in sorted(picked)]
