"""A FAISS index plus the search parameters it was tuned with, searchable with a row filter."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faiss
import numpy as np

from vitrina.indexer import checks
from vitrina.indexer.index._faiss_params import (
    RERANK, TUNABLE, apply_to_index, index_kind, inner_index, search_parameters, stores_exact_vectors,
)
from vitrina.indexer.index.exact import CUT_SLACK, exact_search, settle_ties
from vitrina.indexer.index.gpu import maybe_to_gpu
from vitrina.schemas.manifest import IndexInfo

__all__ = ["VectorIndex", "ivfdata_path"]

# Filters that allow few rows are answered by exact scoring of just those rows.
# Below ~2% of rows a graph walk or list scan mostly meets excluded rows, so
# exact is cheaper as well as exact. The absolute floor is about quality: a
# metadata filter (a category, a people) tends to select rows that cluster in
# embedding space, and when the query lies away from them an HNSW walk finds few
# of them. On 100k x 384-d clustered data, filters keeping whole clusters (4-60%
# of rows) got recall@10 0.47-0.70 through HNSW and 0.79-0.93 through IVF, where
# random filters of the same sizes got 0.99-1.0. Exact scoring of 20k rows of
# 384 floats is ~8 MFLOP: about 5 ms for one query, far less per query in a batch.
SUBSET_EXACT_MAX_FRACTION = 0.02
SUBSET_EXACT_MAX_ROWS = 20_000


def ivfdata_path(index_path: Path) -> Path:
    """Where an index's on-disk inverted lists live, when it has them (index/ondisk.py)."""
    return index_path.with_suffix(".ivfdata")


class VectorIndex:
    """Inner-product search over rows 0..ntotal-1 of an embeddings table.

    `vectors`, when given, is the matrix the index was built from (row i is
    FAISS id i). It is only read by filtered searches that fall back to exact
    scoring; without it those rows are reconstructed from the index, which is
    exact for Flat / HNSW,Flat / IVF,Flat and approximate for SQ/PQ codes.
    """

    def __init__(self, index: faiss.Index, search_params: dict | None = None, vectors: np.ndarray | None = None):
        self.index = index
        self.kind = index_kind(index)
        self.search_params = search_params or {}
        self._positions: np.ndarray | None = None  # row -> position inside an IndexIDMap, built on demand
        if vectors is not None:
            vectors = checks.matrix("vectors", vectors, dim=index.d)
            if vectors.shape[0] != index.ntotal:
                raise ValueError(
                    f"vectors has {vectors.shape[0]} rows but the index holds {index.ntotal}; "
                    "pass the embeddings the index was built from"
                )
        self.vectors = vectors

    @property
    def search_params(self) -> dict:
        """The tuned knob in force ({'efSearch': 64}, {'nprobe': 16} or {} for exhaustive search)."""
        return dict(self._params)

    @search_params.setter
    def search_params(self, params: dict) -> None:
        # Keep only the knob this index family understands and the re-ranking depth; the rest
        # are notes from tuning.
        knob = TUNABLE.get(self.kind)
        self._params = {key: int(params[key]) for key in (knob, RERANK) if key and key in params}
        apply_to_index(self.index, self._params)
        self._cache_params()

    def _cache_params(self) -> None:
        # Built once per index: a SearchParameters object per unfiltered query cost ~40 us of a
        # 0.45 ms search (two downcasts of the index chain). FAISS only reads it: threads share it.
        self._unfiltered_params = search_parameters(self.index, self._params, None, 1.0)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __repr__(self) -> str:
        return f"VectorIndex(kind={self.kind!r}, ntotal={self.ntotal}, dim={self.dim}, params={self.search_params})"

    # -- search ---------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows per query: (scores float32 [m, k], rows int64 [m, k]), best first, near-ties
        by row (exact.settle_ties: with the index's vectors, scores are exact float64 ones).

        `allowed` is a boolean mask over rows; only allowed rows are returned.
        Whenever at least k rows are allowed, exactly k are returned; otherwise
        all allowed rows are, and the tail is padded with row -1, score -inf.
        """
        queries = checks.matrix("queries", queries, dim=self.dim)
        k = checks.positive_int("k", k)
        if allowed is None:
            return self._faiss_search(queries, k, None)
        allowed = checks.row_mask("allowed", allowed, self.ntotal)
        n_allowed = int(np.count_nonzero(allowed))
        if n_allowed <= max(SUBSET_EXACT_MAX_ROWS, SUBSET_EXACT_MAX_FRACTION * self.ntotal):
            return self._exact_subset(queries, k, allowed)

        # bit i of byte i//8 (little-endian bit order) is row i, as IDSelectorBitmap reads it.
        bitmap = np.packbits(allowed, bitorder="little")
        selector = faiss.IDSelectorBitmap(bitmap)
        try:
            scores, rows = self._faiss_search(queries, k, selector, n_allowed / self.ntotal)
        except RuntimeError:
            # Some indexes (e.g. GPU ones) reject selectors; exact scoring is always correct.
            return self._exact_subset(queries, k, allowed)
        # A graph walk (or nprobe lists) can run out of allowed rows before finding k;
        # redo exactly those queries so the "k if k exist" guarantee holds.
        short = (rows[:, -1] < 0) if n_allowed >= k else np.zeros(len(rows), bool)
        if short.any():
            scores[short], rows[short] = self._exact_subset(queries[short], k, allowed)
        return scores, rows

    def _faiss_search(
        self, queries: np.ndarray, k: int, selector, allowed_fraction: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        params = (self._unfiltered_params if selector is None
                  else search_parameters(self.index, self._params, selector, allowed_fraction))
        # FAISS orders near-ties by its own float32 bits, which differ between processors, and
        # cuts a tie at k wherever its heap puts it: fetch a few hits past k, settle, then cut.
        # Lossy codes fetch rerank x k, which settling re-scores exactly from the vectors.
        rerank = self._params.get(RERANK, 1) if self.vectors is not None else 1
        fetch = max(k, min(max(k + CUT_SLACK, k * rerank), self.ntotal))
        scores, rows = self.index.search(queries, fetch, params=params)
        # FAISS pads missing results with id -1 and -FLT_MAX; make the padding unambiguous.
        scores[rows < 0] = -np.inf
        scores, rows = self._settled(queries, scores, rows)
        return np.ascontiguousarray(scores[:, :k]), np.ascontiguousarray(rows[:, :k])

    def _settled(self, queries: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """settle_ties over the stored vectors, or over the hits' rows reconstructed from the
        index, so an index loaded without its vectors answers the same."""
        if self.vectors is not None:
            return settle_ties(self.vectors, queries, scores, rows)
        picked = np.unique(rows[rows >= 0])
        try:
            gathered = self._reconstruct(picked) if len(picked) else None
        except RuntimeError:  # an index type that cannot reconstruct: order its own scores
            gathered = None
        if gathered is None:
            return settle_ties(None, queries, scores, rows)
        # Local rows keep the global rows' order, so ties still fall by row.
        local = np.where(rows >= 0, np.searchsorted(picked, np.maximum(rows, 0)), -1)
        scores, local = settle_ties(gathered, queries, scores, local)
        return scores, np.where(local >= 0, picked[np.maximum(local, 0)], -1)

    def _exact_subset(self, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        subset = np.flatnonzero(allowed)
        if subset.size == 0:
            return np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        if self.vectors is not None:
            vecs = self.vectors[subset]
        else:
            vecs = self._reconstruct(subset)
        scores, local = exact_search(vecs, queries, k)
        rows = np.where(local >= 0, subset[np.maximum(local, 0)], -1)
        return scores, rows.astype(np.int64)

    def _reconstruct(self, rows: np.ndarray) -> np.ndarray:
        if isinstance(self.index, faiss.IndexIDMap):
            # IndexIDMap cannot reconstruct by id; invert its id map once and ask the inner index.
            if self._positions is None:
                ids = faiss.vector_to_array(self.index.id_map)
                self._positions = np.empty(len(ids), dtype=np.int64)
                self._positions[ids] = np.arange(len(ids))
            return inner_index(self.index).reconstruct_batch(self._positions[rows])
        try:
            return self.index.reconstruct_batch(rows.astype(np.int64))
        except RuntimeError:
            # IVF indexes need a row -> list map to reconstruct; indexes built here have one,
            # indexes read from elsewhere may not, and it costs only 8 bytes a row to add.
            ivf = faiss.try_extract_index_ivf(self.index)
            if ivf is None:
                raise
            ivf.make_direct_map()
            return self.index.reconstruct_batch(rows.astype(np.int64))

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to `path` atomically: readers see the old file or the new one, never half."""
        path = Path(path)
        index = self.index
        if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__:
            index = faiss.index_gpu_to_cpu(index)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            faiss.write_index(index, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        info: IndexInfo,
        vectors: np.ndarray | None = None,
        use_gpu: bool = True,
    ) -> "VectorIndex":
        """Read an index written by `save` and apply the search parameters recorded in `info`."""
        if not isinstance(info, IndexInfo):
            raise ValueError(f"info must be an IndexInfo (the manifest's index entry), got {type(info).__name__}")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no index file; build one with build_index(...) and save it")
        # Memory-mapped: IVF inverted lists stay in the file (pages come in as lists are probed,
        # and every server process shares them through the page cache); other index types are
        # read into RAM as before. On-disk lists (index/ondisk.py) are found beside the index
        # file, wherever the bundle was copied. Nothing writes to a served index.
        # IO_FLAG_MMAP on top of on-disk lists crashes FAISS 1.15; those are memory-mapped anyway.
        if ivfdata_path(path).exists():
            flags = faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY
        else:
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY
        index = faiss.read_index(str(path), flags)
        # Validate before a possible GPU copy so errors describe the file, not the device.
        loaded = cls(index, info.search_params, vectors)
        if use_gpu:
            loaded.index = maybe_to_gpu(index)
            loaded._cache_params()  # of the index that searches
        if loaded.index is index and stores_exact_vectors(index):
            # Hits are re-scored from the index's own copy of the vectors (the same float32
            # values), not from `vectors`: reading a memory-mapped vectors.npy row by row brings
            # nearly all of it into memory over time, beside that copy. On 100k x 384 HNSW32 a
            # serving process held 421 MiB that way, where raw FAISS held 220.
            loaded.vectors = None
        return loaded
