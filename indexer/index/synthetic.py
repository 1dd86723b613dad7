"""Seeded synthetic embeddings for tests and benchmarks.

Uniformly random unit vectors are the worst case for every ANN index (no
structure to exploit, all distances alike), while a few tight blobs are
trivially easy. Real encoder output sits between: vectors concentrate around
topics, and within a topic vary along a few dozen directions. This generator
mimics that: a mixture of clusters of uneven size on the unit sphere, each
cluster spreading along its own low-rank subspace, plus isotropic noise so
neighbours are never exact duplicates.
"""
from __future__ import annotations

import numpy as np

from vitrina.indexer import checks

__all__ = ["ClusteredSphere"]


class ClusteredSphere:
    """A fixed random mixture; `sample` draws seeded, L2-normalised float32 vectors from it.

    Base vectors and held-out queries drawn with different seeds come from the
    same distribution, which is what an index is tuned and evaluated against.
    """

    def __init__(
        self,
        dim: int,
        n_clusters: int = 256,
        rank: int = 24,
        spread: tuple[float, float] = (0.6, 1.2),
        noise: float = 0.35,
        seed: int = 0,
    ):
        self.dim = checks.positive_int("dim", dim)
        self.n_clusters = checks.positive_int("n_clusters", n_clusters)
        self.rank = min(checks.positive_int("rank", rank), self.dim)
        self.noise = float(noise)
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((self.n_clusters, self.dim)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        # Columns have norm ~1, so a standard-normal z moves a point by ~spread.
        self.bases = (
            rng.standard_normal((self.n_clusters, self.dim, self.rank)) / np.sqrt(self.dim * self.rank)
        ).astype(np.float32)
        self.spreads = rng.uniform(*spread, size=self.n_clusters).astype(np.float32)
        # Uneven cluster sizes, as in real catalogues (a few big topics, a long tail).
        self.weights = rng.dirichlet(np.full(self.n_clusters, 0.7))

    def sample(
        self, n: int, seed: int, return_labels: bool = False, chunk: int = 100_000
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        n = checks.positive_int("n", n)
        rng = np.random.default_rng(seed)
        labels = rng.choice(self.n_clusters, size=n, p=self.weights)
        out = np.empty((n, self.dim), dtype=np.float32)
        # One cluster at a time, in bounded chunks: gathering a [rows, dim, rank]
        # basis per row would need ~4 GB for 100k x 384-d rows.
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(self.n_clusters + 1))
        for c in range(self.n_clusters):
            members = order[bounds[c] : bounds[c + 1]]
            for start in range(0, members.size, chunk):
                rows = members[start : start + chunk]
                z = rng.standard_normal((rows.size, self.rank), dtype=np.float32)
                x = self.centres[c] + self.spreads[c] * (z @ self.bases[c].T)
                x += rng.standard_normal(x.shape, dtype=np.float32) * (self.noise / np.sqrt(self.dim))
                x /= np.linalg.norm(x, axis=1, keepdims=True)
                out[rows] = x
        return (out, labels) if return_labels else out
