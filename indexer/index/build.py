"""Build a FAISS index for a collection's vectors and tune it to a recall target.

Tuning queries are a seeded sample S of the collection's own rows, and recall is
measured as if S were *not* indexed: against exact search over the other rows,
with S kept out of the approximate search too. Querying an index with vectors
it contains flatters it — an HNSW walk lands on the query's own node, whose
edges point straight at its neighbours (on 100k x 384-d clustered data that
reads 0.955 recall@10 where held-out queries get 0.91). So:

* IVF and exhaustive code indexes (SQ/PQ) hold everything, and the search
  skips S through an IDSelector, which for them is exactly the same as never
  having added S;
* HNSW adds S only after tuning; since HNSW numbers vectors in insertion order,
  it is wrapped in an IndexIDMap so FAISS ids are still row numbers.
"""
from __future__ import annotations

import logging
import time

import faiss
import numpy as np
from tqdm import tqdm

from vitrina.indexer import checks
from vitrina.indexer.index._faiss_params import (
    RERANK, RERANK_FACTOR, index_kind, inner_index, search_parameters, stores_exact_vectors, tuning_grid,
)
from vitrina.indexer.index.choice import MIN_POINTS_PER_LIST, get_optimal_index_specs
from vitrina.indexer.index.exact import exact_search, settle_ties
from vitrina.indexer.index.gpu import gpu_clustering_index, gpu_count
from vitrina.indexer.index.metrics import recall_at_k
from vitrina.indexer.index.vector_index import VectorIndex
from vitrina.schemas.manifest import IndexInfo

__all__ = ["build_index", "RECALL_K"]

log = logging.getLogger(__name__)

RECALL_K = 10
# k-means cost is linear in training points; past ~256 per centroid (FAISS's own
# cap) or 100k in all, centroids barely move while training time keeps growing.
TRAIN_POINTS_PER_LIST = 256
MAX_TRAIN_VECTORS = 100_000
# IVF centroids only route queries to lists; 10 k-means iterations get them
# close enough, and 25 (the FAISS default) makes a 1M build 2.5x slower.
IVF_KMEANS_ITERATIONS = 10
# FAISS's default efConstruction (40) builds a graph that caps recall: on 200k x
# 384-d clustered vectors recall@10 stalled at 0.98 even with efSearch=1024, and
# 1M needed efSearch=4096 (14 ms a query) for 0.96. 96 reached 0.996 at
# efSearch=64 for about twice the build time, which every later query repays.
HNSW_EF_CONSTRUCTION = 96
# Tuning rows are at most this share of the collection, so hiding them leaves
# the index it is measured on essentially the one that gets served.
MAX_SAMPLE_FRACTION = 0.1
ADD_BATCH = 65_536


def build_index(
    vectors: np.ndarray,
    spec: str | None = None,
    target_recall: float = 0.95,
    sample_size: int = 1000,
    seed: int = 0,
    progress: bool = False,
    memory_budget_bytes: int | None = None,
) -> tuple[VectorIndex, IndexInfo]:
    """Build, fill and tune an inner-product index over `vectors` (row i gets FAISS id i).

    spec: a FAISS index_factory string; None picks `get_optimal_index_specs(n, dim,
    memory_budget_bytes)`: with a budget, only indexes estimated to fit it are tried.
    Tuning draws `sample_size` rows (seeded, at most 10% of the collection) as
    queries and raises efSearch / nprobe until held-out recall@10 against exact
    search reaches `target_recall` (see the module docstring). A spec that
    cannot reach it even at its largest setting is abandoned for the next one
    in the ranked list (ending in exact ``Flat``);
    IndexInfo.search_params["fallback_from"] records what was tried and why.
    IndexInfo.build_seconds covers everything, abandoned attempts included.
    """
    started = time.perf_counter()
    vectors = checks.matrix("vectors", vectors)
    n, dim = vectors.shape
    candidates = _candidates(n, dim, spec, target_recall, memory_budget_bytes)
    sample_size = checks.positive_int("sample_size", sample_size)
    rng = np.random.default_rng(seed)
    probe: _Probe | None = None  # drawn once, and only if some candidate needs measuring
    rejected: list[dict] = []
    for candidate in candidates:
        index = _new_index(candidate, dim, given=spec is not None)
        _train(index, vectors, rng, seed)
        if isinstance(inner_index(index), faiss.IndexFlat):
            # Exhaustive float search is exact: recall 1 by construction, nothing to measure.
            _add(index, vectors, np.arange(n), candidate, progress)
            params, recall, measured_on = {}, 1.0, 0
        else:
            probe = probe or _Probe(vectors, sample_size, rng)
            index, params, recall = _fill_and_tune(index, vectors, probe, target_recall, candidate, progress)
            measured_on = len(probe.rows)
        if recall >= target_recall:
            built = VectorIndex(index, params, vectors=vectors)
            if rejected:
                params["fallback_from"] = rejected
            info = IndexInfo(
                factory=candidate,
                search_params=params,
                recall_at_10=round(recall, 6),
                recall_sample=measured_on,
                build_seconds=round(time.perf_counter() - started, 3),
            )
            return built, info
        reason = f"held-out recall@{RECALL_K} {recall:.4f} < target {target_recall} at {params or 'its only setting'}"
        log.warning("index %s rejected: %s; trying the next candidate", candidate, reason)
        rejected.append({"factory": candidate, "recall_at_10": round(recall, 6), "reason": reason})
    # Flat ends every candidate list and always reaches any target <= 1.
    raise AssertionError(f"no candidate reached target_recall={target_recall}: {rejected}")


def _candidates(n: int, dim: int, spec: str | None, target_recall: float, budget: int | None) -> list[str]:
    """The index specs to try in order: the given one then exact Flat, or the ranked choice."""
    if n == 0:
        raise ValueError("vectors has no rows; an index needs at least one vector")
    if isinstance(target_recall, bool) or not isinstance(target_recall, (int, float)) or not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall!r}")
    if spec is None:
        return get_optimal_index_specs(n, dim, budget)
    if isinstance(spec, str) and spec.strip():
        return [spec] if spec == "Flat" else [spec, "Flat"]
    raise ValueError(f"spec must be a FAISS index_factory string such as 'HNSW32' or None, got {spec!r}")


class _Probe:
    """Tuning rows S, a mask of the other rows, and the exact top-k among those other rows."""

    def __init__(self, vectors: np.ndarray, sample_size: int, rng: np.random.Generator):
        n = len(vectors)
        size = min(sample_size, max(1, int(n * MAX_SAMPLE_FRACTION)))
        self.rows = np.sort(rng.choice(n, size=size, replace=False))
        self.others = np.ones(n, dtype=bool)
        self.others[self.rows] = False
        self.queries = vectors[self.rows]
        self.vectors = vectors  # re-scores the candidates of lossy codes
        self.k = min(RECALL_K, n - size) if n > size else 0
        self.exact = exact_search(vectors, self.queries, self.k, allowed=self.others)[1] if self.k else None


def _fill_and_tune(
    index: faiss.Index, vectors: np.ndarray, probe: _Probe, target: float, spec: str, progress: bool
) -> tuple[faiss.Index, dict, float]:
    if probe.k == 0:  # a single row: nothing to rank, search is trivially exact
        _add(index, vectors, np.arange(len(vectors)), spec, progress)
        grid = tuning_grid(index)
        return index, ({} if grid is None else {grid[0]: grid[1][0]}), 1.0
    if index_kind(index) == "hnsw":
        index = faiss.IndexIDMap(index)
        _add(index, vectors, np.flatnonzero(probe.others), spec, progress)
        params, recall = _tune(index, probe, target, selector=None)
        _add(index, vectors, probe.rows, spec, progress=False)
    else:
        _add(index, vectors, np.arange(len(vectors)), spec, progress)
        # Bit i of byte i//8 is row i (IDSelectorBitmap's layout).
        hide = faiss.IDSelectorBitmap(np.packbits(probe.others, bitorder="little"))
        params, recall = _tune(index, probe, target, selector=hide)
    return index, params, recall


def _tune(index: faiss.Index, probe: _Probe, target: float, selector) -> tuple[dict, float]:
    """Smallest setting on the grid whose held-out recall reaches `target`, else the largest tried.

    Lossy codes are measured as they are served: re-ranked exactly from the vectors."""
    grid = tuning_grid(index)
    settings = [{}] if grid is None else [{grid[0]: v} for v in grid[1]]
    if not stores_exact_vectors(index):
        settings = [{**params, RERANK: RERANK_FACTOR} for params in settings]
    for params in settings:
        rows = _search_hiding_probe(index, probe, params, selector)
        recall = recall_at_k(rows, probe.exact, probe.k)
        log.debug("tuning %s: held-out recall@%d=%.4f", params, probe.k, recall)
        if recall >= target:
            break
    return dict(params), recall


def _search_hiding_probe(index: faiss.Index, probe: _Probe, params: dict, selector) -> np.ndarray:
    fetch = min(index.ntotal, probe.k * params.get(RERANK, 1))
    try:
        scores, rows = index.search(probe.queries, fetch, params=search_parameters(index, params, selector))
    except RuntimeError:
        if selector is None:
            raise
        # Some exhaustive indexes (IndexPQ) take no SearchParameters: over-fetch and drop the
        # probe rows afterwards. They are <= 10% of rows, so 2k+10 more leaves enough others.
        scores, rows = index.search(probe.queries, min(index.ntotal, 2 * fetch + 10))
        rows = np.where((rows >= 0) & probe.others[np.maximum(rows, 0)], rows, -1)
        kept = np.argsort(rows < 0, axis=1, kind="stable")[:, :fetch]  # valid entries first, order kept
        scores, rows = np.take_along_axis(scores, kept, axis=1), np.take_along_axis(rows, kept, axis=1)
    if RERANK in params:
        scores = np.where(rows < 0, -np.inf, scores)
        rows = settle_ties(probe.vectors, probe.queries, scores, rows)[1]
    return rows[:, : probe.k]


def _new_index(spec: str, dim: int, given: bool) -> faiss.Index:
    try:
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        name = "spec" if given else "the chosen spec"
        raise ValueError(
            f"{name}={spec!r} is not a valid FAISS index_factory string for dim={dim} ({exc}); "
            "see https://github.com/facebookresearch/faiss/wiki/The-index-factory"
        ) from exc
    if index_kind(index) == "hnsw":
        inner_index(index).hnsw.efConstruction = HNSW_EF_CONSTRUCTION  # not expressible in a factory string
    return index


def _train(index: faiss.Index, vectors: np.ndarray, rng: np.random.Generator, seed: int) -> None:
    if index.is_trained:
        return
    n = len(vectors)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.cp.niter = IVF_KMEANS_ITERATIONS
        ivf.cp.seed = seed
        wanted = max(min(TRAIN_POINTS_PER_LIST * ivf.nlist, MAX_TRAIN_VECTORS), MIN_POINTS_PER_LIST * ivf.nlist)
    else:
        wanted = MAX_TRAIN_VECTORS
    if wanted >= n:
        sample = vectors
    else:
        # Sorted rows read memory in order; the sample itself is uniform.
        sample = vectors[np.sort(rng.choice(n, size=wanted, replace=False))]
    on_gpu = gpu_clustering_index(ivf.d, ivf.metric_type) if ivf is not None else None
    if on_gpu is not None:
        log.info("training IVF centroids on %d GPU(s)", gpu_count())
        ivf.clustering_index = on_gpu
    try:
        index.train(sample)
    finally:
        if on_gpu is not None:
            ivf.clustering_index = None  # the GPU copy is not part of what gets written


def _add(index: faiss.Index, vectors: np.ndarray, rows: np.ndarray, spec: str, progress: bool) -> None:
    """Add `rows` of `vectors` with their row numbers as ids, in batches."""
    sequential = (
        not isinstance(index, faiss.IndexIDMap)
        and index.ntotal == rows[0]
        and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows)))
    )
    with tqdm(total=len(rows), desc=f"add {spec}", unit="vec", disable=not progress) as bar:
        for start in range(0, len(rows), ADD_BATCH):
            batch = rows[start : start + ADD_BATCH]
            if sequential:
                # Plain add() keeps ids implicit (Flat, SQ, PQ cannot store explicit ids).
                index.add(vectors[batch[0] : batch[-1] + 1])
            else:
                index.add_with_ids(vectors[batch], batch.astype(np.int64))
            bar.update(len(batch))
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None and index.ntotal == len(vectors):
        # Lets filtered searches reconstruct rows by id after a save/load without the vectors.
        ivf.make_direct_map()
