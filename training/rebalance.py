"""The research's rebalancing pipeline for long-tailed class labels, as pure functions.

Museum attributes (`povo`, `categoria`) and openclipart's `subcategory` are
long-tailed: a few classes hold most items, many hold a handful. The recipe:

1. drop classes below a minimum count or below a quantile of class sizes
   (too few examples to learn or to measure);
2. call classes with more than `majority_factor` (2) x the median count
   "majority" and undersample them to `majority_keep` x median;
3. fill classes below `minority_target` x median with augmented copies
   (flips, blur; see `augment.py`), at most `max_copies` per real sample;
4. in the "strong" variant, undersample the majority harder and fill it back
   with augmented copies too (`majority_target`), trading real duplicates of
   the same style for augmented variety;
5. weight the cross-entropy inversely to class frequency (`class_weights`).

Everything works on integer label arrays (-1 = no label) and returns row
numbers, so the plan is cheap to test and independent of images. Given the
same labels, config and seed the plan is identical.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vitrina.schemas.errors import FieldError

MISSING = -1


class RebalanceConfigError(FieldError):
    """A rebalancing parameter out of range; names the field."""

    scope = "rebalance."


@dataclass(frozen=True)
class RebalanceConfig:
    min_count: int = 1
    """Drop classes with fewer labelled examples than this."""
    min_quantile: float = 0.0
    """Drop classes whose count is below this quantile of all class counts (0 keeps all)."""
    majority_factor: float = 2.0
    """A class is "majority" when its count exceeds this times the median count of kept classes."""
    majority_keep: float | None = 2.0
    """Undersample majority classes to this times the median (None: keep every sample)."""
    majority_target: float | None = None
    """After undersampling, fill majority classes with augmented copies up to this times the median."""
    minority_target: float | None = 1.0
    """Fill other classes below this times the median with augmented copies (None: no augmentation)."""
    max_copies: int = 3
    """At most this many augmented copies of any one real sample."""

    def __post_init__(self) -> None:
        if self.min_count < 1:
            raise RebalanceConfigError("min_count", f"must be >= 1, got {self.min_count}")
        if not 0.0 <= self.min_quantile < 1.0:
            raise RebalanceConfigError("min_quantile", f"must be in [0, 1), got {self.min_quantile}")
        if self.majority_factor < 1.0:
            raise RebalanceConfigError("majority_factor", f"must be >= 1, got {self.majority_factor}")
        for name in ("majority_keep", "majority_target", "minority_target"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise RebalanceConfigError(name, f"must be positive or None, got {value}")
        if self.max_copies < 0:
            raise RebalanceConfigError("max_copies", f"must be >= 0, got {self.max_copies}")


# Named variants of the recipe; min_count / min_quantile are set per dataset on top.
REBALANCE_PRESETS: dict[str, RebalanceConfig] = {
    "none": RebalanceConfig(majority_keep=None, minority_target=None),
    "moderate": RebalanceConfig(majority_keep=2.0, minority_target=1.0),
    "strong": RebalanceConfig(majority_keep=1.0, majority_target=2.0, minority_target=1.0),
}


@dataclass(frozen=True)
class RebalancePlan:
    """Which samples to train on: `rows[i]` is a row of the input labels, `copies[i]` 0 for the
    real sample or k >= 1 for its k-th augmented copy."""

    rows: np.ndarray
    copies: np.ndarray
    kept_classes: np.ndarray
    dropped_classes: np.ndarray
    majority_classes: np.ndarray
    median: float
    counts_before: dict[int, int] = field(default_factory=dict)
    counts_after: dict[int, int] = field(default_factory=dict)

    def labels(self, labels: np.ndarray) -> np.ndarray:
        return np.asarray(labels)[self.rows]

    def summary(self) -> dict:
        return {
            "samples": int(len(self.rows)),
            "augmented": int(np.count_nonzero(self.copies)),
            "kept_classes": self.kept_classes.tolist(),
            "dropped_classes": self.dropped_classes.tolist(),
            "majority_classes": self.majority_classes.tolist(),
            "median": self.median,
            "counts_before": {str(k): v for k, v in self.counts_before.items()},
            "counts_after": {str(k): v for k, v in self.counts_after.items()},
        }


def class_counts(labels: np.ndarray) -> dict[int, int]:
    """{class: count} over labelled rows (MISSING ignored), classes ascending."""
    labels = _as_labels(labels)
    values, counts = np.unique(labels[labels != MISSING], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def select_classes(counts: dict[int, int], min_count: int = 1, min_quantile: float = 0.0) -> np.ndarray:
    """Classes with at least `min_count` examples and a count >= the `min_quantile` quantile of counts."""
    if not counts:
        return np.zeros(0, dtype=np.int64)
    classes = np.fromiter(counts, dtype=np.int64)
    sizes = np.fromiter(counts.values(), dtype=np.int64)
    # "lower" keeps the threshold an actual class size, so a class at the quantile stays.
    threshold = np.quantile(sizes, min_quantile, method="lower") if min_quantile > 0 else 0
    return classes[(sizes >= min_count) & (sizes >= threshold)]


def majority_classes(counts: dict[int, int], classes: np.ndarray, factor: float = 2.0) -> tuple[np.ndarray, float]:
    """Classes among `classes` whose count exceeds `factor` x their median count, and that median."""
    if len(classes) == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    sizes = np.array([counts[int(c)] for c in classes])
    median = float(np.median(sizes))
    return np.asarray(classes, dtype=np.int64)[sizes > factor * median], median


def undersample(rows: np.ndarray, keep: int, rng: np.random.Generator) -> np.ndarray:
    """`keep` of `rows` drawn without replacement (all of them when keep >= len), ascending."""
    rows = np.asarray(rows, dtype=np.int64)
    if keep >= len(rows):
        return rows
    return np.sort(rng.choice(rows, size=keep, replace=False))


def augmented_copies(rows: np.ndarray, target: int, max_copies: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows and copy numbers of augmented samples that bring len(rows) up to `target`.

    Copies go round-robin over a shuffled order of the real rows, so every
    real sample gets its first copy before any gets a second; at most
    `max_copies` per row.
    """
    rows = np.asarray(rows, dtype=np.int64)
    needed = min(target - len(rows), max_copies * len(rows))
    if needed <= 0 or len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = rng.permutation(rows)
    positions = np.arange(needed)
    return order[positions % len(order)], positions // len(order) + 1


def plan_rebalance(labels: np.ndarray, config: RebalanceConfig = RebalanceConfig(), seed: int = 0) -> RebalancePlan:
    """The rebalanced training sample list for `labels` (one int per row, MISSING for unlabelled)."""
    labels = _as_labels(labels)
    rng = np.random.default_rng(seed)
    counts = class_counts(labels)
    kept = select_classes(counts, config.min_count, config.min_quantile)
    majority, median = majority_classes(counts, kept, config.majority_factor)
    is_majority = set(majority.tolist())
    out_rows: list[np.ndarray] = []
    out_copies: list[np.ndarray] = []
    # Classes in ascending order, each drawing from the one generator: deterministic.
    for cls in kept.tolist():
        rows = np.flatnonzero(labels == cls)
        if cls in is_majority:
            if config.majority_keep is not None:
                rows = undersample(rows, _times_median(config.majority_keep, median), rng)
            target = config.majority_target
        else:
            target = config.minority_target
        out_rows.append(rows)
        out_copies.append(np.zeros(len(rows), dtype=np.int64))
        if target is not None:
            extra_rows, extra_copies = augmented_copies(rows, _times_median(target, median), config.max_copies, rng)
            out_rows.append(extra_rows)
            out_copies.append(extra_copies)
    rows = np.concatenate(out_rows) if out_rows else np.zeros(0, dtype=np.int64)
    copies = np.concatenate(out_copies) if out_copies else np.zeros(0, dtype=np.int64)
    kept_set = set(kept.tolist())
    return RebalancePlan(
        rows=rows,
        copies=copies,
        kept_classes=kept,
        dropped_classes=np.array([c for c in counts if c not in kept_set], dtype=np.int64),
        majority_classes=majority,
        median=median,
        counts_before=counts,
        counts_after=class_counts(labels[rows]),
    )


def class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Cross-entropy weights inversely proportional to class frequency: n / (k * n_c).

    k is the number of classes present, so a balanced set gets weight 1 everywhere
    (scikit-learn's "balanced" rule); absent classes get 0. MISSING is ignored.
    """
    labels = _as_labels(labels)
    labels = labels[labels != MISSING]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}) or be {MISSING}, got range [{labels.min()}, {labels.max()}]")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = np.count_nonzero(counts)
    weights = np.zeros(num_classes, dtype=np.float64)
    if present:
        weights[counts > 0] = len(labels) / (present * counts[counts > 0])
    return weights


def _times_median(factor: float, median: float) -> int:
    return max(1, int(round(factor * median)))


def _as_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array (-1 = unlabelled), got {labels.dtype} shape {labels.shape}")
    return labels.astype(np.int64, copy=False)
