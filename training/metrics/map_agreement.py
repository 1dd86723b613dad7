"""How well a space's stored map agrees with one categorical attribute.

The clusterings the indexer stored (HDBSCAN, k-means... in projections.parquet) are scored
against the attribute's labels with ARI and NMI, and each 2-D map with the silhouette of
those labels in it: a map where the attribute's classes form separate islands scores near
1, one where they are mixed near 0 or below. Curators read these to know whether colouring
the map by an attribute will show structure, and operators to see a re-index lose it.

Only items carrying the attribute are scored. HDBSCAN's noise (-1) counts as one cluster,
the convention of clustering.py, so the noise fraction is reported beside the scores.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from vitrina.training.metrics.clustering import adjusted_rand_index, normalized_mutual_info
from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError

# The silhouette is quadratic in the items scored; a seeded sample of this many keeps it to
# about a second per map and attribute while varying by less than 0.01 (8k openclipart items).
SILHOUETTE_MAX_ITEMS = 4000


def map_agreement(
    coords: Mapping[str, np.ndarray],
    clusters: Mapping[str, np.ndarray],
    labels: Sequence[Any],
    seed: int = 0,
    max_items: int = SILHOUETTE_MAX_ITEMS,
) -> dict[str, float]:
    """`<clustering>_ari`, `<clustering>_nmi`, `<clustering>_noise_fraction` per clustering and
    `<method>_silhouette` per map, over the items whose label is not None."""
    from sklearn.metrics import silhouette_score

    n = len(labels)
    for name, values in [*coords.items(), *clusters.items()]:
        if len(values) != n:
            raise EvaluatorError(name, f"has {len(values)} rows, the labels {n}")
    rows = np.flatnonzero([label is not None for label in labels])
    kept = np.asarray([str(labels[i]) for i in rows], dtype=object)
    classes = len(set(kept.tolist()))
    if classes < 2:
        raise EvaluatorError("labels", f"map agreement needs at least 2 classes, got {classes}")
    out: dict[str, float] = {"items": float(len(rows)), "classes": float(classes)}
    for name, values in clusters.items():
        predicted = np.asarray(values)[rows]
        out[f"{name}_ari"] = adjusted_rand_index(kept, predicted)
        out[f"{name}_nmi"] = normalized_mutual_info(kept, predicted)
        out[f"{name}_noise_fraction"] = float((predicted == -1).mean())
    sample = min(len(rows), max_items)
    for method, values in coords.items():
        points = np.asarray(values, dtype=np.float64)[rows]
        # A class of one item has no silhouette; scikit-learn needs 2 <= classes < items.
        out[f"{method}_silhouette"] = float(
            silhouette_score(points, kept, sample_size=sample, random_state=seed)
        ) if classes < len(rows) else float("nan")
    return out


class MapAgreementEvaluator(Evaluator):
    """Target: (coords {method: [n, 2]}, cluster labels {clustering: [n]}), rows matching `labels`."""

    greater_is_better = True

    def __init__(self, labels: Sequence[Any], attribute: str, seed: int = 0, max_items: int = SILHOUETTE_MAX_ITEMS,
                 name: str | None = None):
        self.labels = list(labels)
        self.seed = seed
        self.max_items = max_items
        self.name = name if name is not None else f"map_{attribute}"
        self.primary_metric = "items"

    def compute(self, target: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]) -> dict[str, float]:
        coords, clusters = target
        # Primary: the first stored clustering's ARI, else the first map's silhouette; which
        # exist depends on the build's options, so it is known only now.
        if clusters:
            self.primary_metric = f"{next(iter(clusters))}_ari"
        elif coords:
            self.primary_metric = f"{next(iter(coords))}_silhouette"
        return map_agreement(coords, clusters, self.labels, self.seed, self.max_items)
