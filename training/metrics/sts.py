"""An in-collection STS (semantic textual similarity) set and its correlation metrics.

There is no human-graded STS set for a museum catalogue or a clip-art library, so
the grades come from the catalogue's own structure (the research's evaluation:
Pearson correlation between cosine similarity and graded pair scores):

    4  two different views (title / keywords / description) of the same item
    3  two items of the same sub-category (both have one, and it is the same)
    2  two items of the same category whose sub-categories differ or are unknown
    1  two items of different categories

Grade 2 sits between the issue's suggested 3 and 1: an item filed directly under a
category (no sub-category) is neither known to share a sub-category nor known to
be far away. Every pair, whatever its grade, compares two *different kinds* of
view when the items allow it (item A's title with item B's keywords), so a grade
never correlates with "both texts are titles". Grades are balanced (the same
number of pairs each) and the sampling is seeded and independent of input order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats

from vitrina.training.data.text_views import ItemViews
from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError, as_encode_fn

log = logging.getLogger("vitrina.training.metrics")

GRADING: dict[int, str] = {
    4: "two different views (title, keywords, description) of one item",
    3: "two items of the same sub-category",
    2: "two items of the same category, different or unknown sub-category",
    1: "two items of different categories",
}
DEFAULT_PAIRS_PER_GRADE = 250
# Rejection sampling gives up after this many draws per wanted pair: a grade
# that cannot be filled (tiny categories) then gets fewer pairs, not a hang.
_ATTEMPTS_PER_PAIR = 50


@dataclass(frozen=True)
class StsPair:
    item_a: str
    item_b: str
    kind_a: str
    kind_b: str
    text_a: str
    text_b: str
    grade: int


@dataclass(frozen=True)
class StsSet:
    pairs: tuple[StsPair, ...]
    seed: int

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def texts_a(self) -> list[str]:
        return [p.text_a for p in self.pairs]

    @property
    def texts_b(self) -> list[str]:
        return [p.text_b for p in self.pairs]

    @property
    def grades(self) -> np.ndarray:
        return np.array([p.grade for p in self.pairs], dtype=np.float64)

    def counts(self) -> dict[int, int]:
        values, counts = np.unique(self.grades.astype(int), return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts)}

    def describe(self) -> dict[str, Any]:
        """What a report needs to say how the set was made."""
        return {"pairs": len(self), "per_grade": self.counts(), "seed": self.seed,
                "grading": {g: GRADING[g] for g in self.counts()}}


def _pick_kinds(rng: np.random.Generator, a: ItemViews, b: ItemViews) -> tuple[str, str]:
    kind_a = a.kinds[rng.integers(len(a.kinds))]
    others = [k for k in b.kinds if k != kind_a] or b.kinds
    return kind_a, others[rng.integers(len(others))]


def _make_pair(rng: np.random.Generator, a: ItemViews, b: ItemViews, grade: int) -> StsPair:
    if a is b:
        first, second = rng.choice(len(a.kinds), size=2, replace=False)
        kind_a, kind_b = a.kinds[first], a.kinds[second]
    else:
        kind_a, kind_b = _pick_kinds(rng, a, b)
    return StsPair(a.item_id, b.item_id, kind_a, kind_b, a.views[kind_a], b.views[kind_b], grade)


def _grade(a: ItemViews, b: ItemViews) -> int | None:
    if a.item_id == b.item_id:
        return 4
    if a.category is None or b.category is None:
        return None
    if a.category != b.category:
        return 1
    if a.subcategory is not None and a.subcategory == b.subcategory:
        return 3
    return 2


def _sample_grade(rng: np.random.Generator, items: list[ItemViews], grade: int, wanted: int) -> list[StsPair]:
    """Draw partner items from the pool that can give `grade` with the first item."""
    if grade == 4:
        pool = [it for it in items if len(it.views) >= 2]
        chosen = rng.permutation(len(pool))[:wanted]
        return [_make_pair(rng, pool[i], pool[i], 4) for i in sorted(chosen)]
    by_category: dict[str, list[ItemViews]] = {}
    by_sub: dict[tuple[str, str], list[ItemViews]] = {}
    labelled = [it for it in items if it.category is not None]
    for it in labelled:
        by_category.setdefault(it.category, []).append(it)
        if it.subcategory is not None:
            by_sub.setdefault((it.category, it.subcategory), []).append(it)
    pairs: list[StsPair] = []
    seen: set[tuple[str, str]] = set()
    for _ in range(wanted * _ATTEMPTS_PER_PAIR):
        if len(pairs) >= wanted or not labelled:
            break
        a = labelled[rng.integers(len(labelled))]
        if grade == 3:
            partners = by_sub.get((a.category, a.subcategory), []) if a.subcategory is not None else []
        elif grade == 2:
            partners = by_category[a.category]
        else:
            partners = labelled
        if len(partners) < 2:
            continue
        b = partners[rng.integers(len(partners))]
        key = (min(a.item_id, b.item_id), max(a.item_id, b.item_id))
        if _grade(a, b) != grade or key in seen:
            continue
        seen.add(key)
        pairs.append(_make_pair(rng, a, b, grade))
    return pairs


def build_sts_set(items: Sequence[ItemViews], pairs_per_grade: int = DEFAULT_PAIRS_PER_GRADE, seed: int = 0) -> StsSet:
    """A balanced, seeded set of graded text pairs from `items` (see the module docstring for grades).

    A grade the items cannot give at all (no sub-categories, one category) is left
    out with a warning; the others are cut to the smallest count so grades stay
    balanced. Raises EvaluatorError when fewer than two grades remain.
    """
    if pairs_per_grade < 1:
        raise EvaluatorError("pairs_per_grade", f"must be at least 1, got {pairs_per_grade}")
    ordered = sorted(items, key=lambda it: it.item_id)
    rng = np.random.default_rng(seed)
    sampled = {grade: _sample_grade(rng, ordered, grade, pairs_per_grade) for grade in sorted(GRADING, reverse=True)}
    empty = [g for g, pairs in sampled.items() if not pairs]
    if empty:
        log.warning("STS grades without any pair left out", extra={"grades": empty})
    present = {g: pairs for g, pairs in sampled.items() if pairs}
    if len(present) < 2:
        raise EvaluatorError(
            "items", f"{len(ordered)} items give pairs of {len(present)} grade(s); an STS set needs items with "
            "two views and at least two categories"
        )
    per_grade = min(len(p) for p in present.values())
    if per_grade < pairs_per_grade:
        log.warning("STS grades balanced below the requested size", extra={"pairs_per_grade": per_grade, "requested": pairs_per_grade})
    return StsSet(tuple(p for g in sorted(present, reverse=True) for p in present[g][:per_grade]), seed)


def sts_correlations(vectors_a: np.ndarray, vectors_b: np.ndarray, grades: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of the pairs' cosine similarity with their grade."""
    a = np.asarray(vectors_a, dtype=np.float64)
    b = np.asarray(vectors_b, dtype=np.float64)
    grades = np.asarray(grades, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or len(a) != len(grades):
        raise EvaluatorError("vectors", f"expected two [n, dim] arrays and n grades, got {a.shape}, {b.shape}, {grades.shape}")
    if len(grades) < 3:
        raise EvaluatorError("grades", f"a correlation needs at least 3 pairs, got {len(grades)}")
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    out = {
        "pearson": float(stats.pearsonr(cosine, grades).statistic),
        "spearman": float(stats.spearmanr(cosine, grades).statistic),
        "pairs": float(len(grades)),
    }
    for grade in np.unique(grades).astype(int):
        out[f"mean_cosine_grade{grade}"] = float(cosine[grades == grade].mean())
    return out


class StsEvaluator(Evaluator):
    """Pearson (primary) and Spearman of an encoder's cosine similarities with the STS grades."""

    primary_metric = "pearson"
    greater_is_better = True

    def __init__(self, sts_set: StsSet, name: str = "sts"):
        if len(sts_set) < 3:
            raise EvaluatorError("sts_set", f"needs at least 3 pairs, got {len(sts_set)}")
        self.sts_set = sts_set
        self.name = name

    def compute(self, target: Any) -> dict[str, float]:
        encode = as_encode_fn(target)
        # Each distinct text once: views recur across pairs.
        unique = sorted(set(self.sts_set.texts_a) | set(self.sts_set.texts_b))
        row = {text: i for i, text in enumerate(unique)}
        vectors = np.asarray(encode(unique), dtype=np.float32)
        if vectors.shape[0] != len(unique):
            raise EvaluatorError("target", f"encoded {len(unique)} texts into {vectors.shape[0]} vectors")
        a = vectors[[row[t] for t in self.sts_set.texts_a]]
        b = vectors[[row[t] for t in self.sts_set.texts_b]]
        return sts_correlations(a, b, self.sts_set.grades)
