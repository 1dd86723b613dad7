"""Clustered test vectors, measured quality bounds and fit/place/refit runs shared by the projection tests."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitrina.indexer.maps import Projection, place_new, placement_drift, project

CLUSTERS, PER_CLUSTER, DIM = 5, 88, 32
N_OLD = 400  # the first version's items; the other 40 arrive with the re-index

# Measured with seed 0 on the data below (umap-learn 0.5.12, pacmap 0.9.1, scikit-learn 1.9.1):
# trustworthiness umap 0.951, pca 0.934 (400 items), tsne 0.972, pacmap 0.958 (160 items);
# 2-D 5-NN label accuracy 1.0 for every method; transformed new points' 10 nearest 2-D
# neighbours 100% own cluster; placement drift vs an aligned full refit umap 0.357 (the refit
# arranges the separated clusters differently, which no rigid alignment undoes), pca 0.022.
# Bounds leave some margin.
TRUST_FLOOR = 0.9
KNN_FLOOR = 0.95
PLACED_PURITY_FLOOR = 0.9
UMAP_DRIFT_BOUND = 0.5
PCA_DRIFT_BOUND = 0.05


def clusters(rng: np.random.Generator, k: int, per: int, dim: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """k tight clusters of L2-normalised vectors around random directions, rows shuffled."""
    centres = rng.standard_normal((k, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(k), per)
    x = centres[labels] + 0.15 * rng.standard_normal((k * per, dim)) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(k * per)
    return x[order].astype(np.float32), labels[order]


def item_ids(n: int) -> list[str]:
    return [f"item-{i:03d}" for i in range(n)]


@dataclass
class Space:
    vectors: np.ndarray
    labels: np.ndarray
    ids: list[str]

    @property
    def old(self) -> slice:
        return slice(0, N_OLD)

    @property
    def new(self) -> slice:
        return slice(N_OLD, None)


@dataclass
class Run:
    """One method fitted on the old items, the new items placed into it, and a full refit."""

    fitted: Projection
    placed: np.ndarray
    refit: Projection
    drift: float


def fit_place_refit(space: Space, method: str) -> Run:
    fitted = project(space.vectors[space.old], method)
    placed = place_new(fitted.reducer, space.vectors[space.new])
    refit = project(space.vectors, method)
    drift = placement_drift(
        placed, space.ids[space.new], refit.coords, space.ids, fitted.coords, space.ids[space.old]
    )
    return Run(fitted, placed, refit, drift)


@dataclass
class GlobalState:
    """numpy's global RNG draw and FAISS's thread count, before and after a call."""

    draw_before: float
    draw_after: float
    faiss_threads_before: int
    faiss_threads_after: int
