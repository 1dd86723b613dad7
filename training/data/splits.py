"""Seeded, stratified splits that never separate a group of near-duplicates."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def group_stratified_split(
    labels: np.ndarray, groups: Sequence[str], fractions: Sequence[float], seed: int = 0
) -> list[np.ndarray]:
    """Split rows into len(fractions) + 1 parts: one per fraction, then the rest.

    Groups (all rows sharing a group name) are the unit: they are stratified by
    the label of their first row, shuffled per stratum, and each part takes
    round(fraction x groups in the stratum). Strata with a single group go to
    the rest, so rare classes are kept for training rather than split in two.
    Returns ascending row arrays.
    """
    labels = np.asarray(labels)
    if len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries for {len(labels)} labels")
    if any(f < 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"fractions must be >= 0 and sum below 1, got {list(fractions)}")
    rows_of: dict[str, list[int]] = {}
    for row, group in enumerate(groups):
        rows_of.setdefault(group, []).append(row)
    strata: dict[int, list[str]] = {}
    for group, rows in rows_of.items():
        strata.setdefault(int(labels[rows[0]]), []).append(group)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in sorted(strata):
        names = sorted(strata[label])
        order = [names[i] for i in rng.permutation(len(names))]
        start = 0
        if len(order) > 1:
            for part, fraction in enumerate(fractions):
                take = int(round(fraction * len(order)))
                for group in order[start : start + take]:
                    parts[part].extend(rows_of[group])
                start += take
        for group in order[start:]:
            parts[-1].extend(rows_of[group])
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def stratified_subsample(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """About `n` rows with the class proportions of `labels` (each class rounded), ascending."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = []
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        take = int(round(n * len(rows) / len(labels)))
        picked.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)
