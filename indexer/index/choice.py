"""Which FAISS index to build for n vectors of dimension dim: a pure, ranked choice.

Rationale (vectors are L2-normalised, metric inner product):

* n < FLAT_MAX_N and n x dim < FLAT_MAX_WORK -> ``Flat``. Exact search over 20k x 384
  floats is ~8 MFLOP per query (well under a millisecond, batched), recall is 1 by
  construction, and there is nothing to train or tune. What a query costs is n x dim,
  not n: 8,103 openclipart images at 1280-d took 11 ms per exact query against 0.2 ms
  for a precomputed lookup, so wide vectors get a graph at fewer items.
* n < HNSW_MAX_N -> ``HNSW32``. The best latency/recall trade-off in memory
  for medium collections; it costs the raw vectors plus a graph of roughly
  M*2 int32 links per vector (x HNSW_GRAPH_OVERHEAD for the upper layers and
  allocator slack) plus an 8-byte id (build_index wraps it in an IndexIDMap),
  and it needs no training.
* n < COMPRESSED_MIN_N -> ``IVF{nlist},Flat``. HNSW build time grows quickly
  past a million vectors on few cores, while IVF trains k-means on a sample
  and adds vectors at memory speed; nprobe tunes it up to exact search.
  nlist = 4*sqrt(n) rounded to a power of two (the usual FAISS guidance),
  capped so each list gets enough training points.
* n >= COMPRESSED_MIN_N -> ``IVF{nlist},SQ8`` first: 8-bit scalar quantisation
  cuts memory 4x and, on normalised vectors, loses little recall.

Lossy codes (SQ, PQ) are served re-ranked: the search fetches RERANK_FACTOR x k candidates
and re-scores them exactly from the space's memory-mapped vectors (vector_index.py), so
their recall is measured, and tuned, after re-ranking.

Every list then carries ``Flat`` as the fallback that always meets a recall
target, and the compressed specs (``IVF..,SQ8``, ``[OPQ..,]IVF..,PQ..np``, or
``SQ8``/``PQ..`` without IVF for small n) after it: they are only reached when
a memory budget removes everything larger. With a budget, specs whose
estimated size exceeds it are dropped; if none fits, ValueError.
"""
from __future__ import annotations

import math
import re

from vitrina.indexer import checks

__all__ = [
    "get_optimal_index_specs",
    "estimate_index_bytes",
    "ivf_nlist",
    "pq_subquantizers",
    "FLAT_MAX_N",
    "FLAT_MAX_WORK",
    "HNSW_MAX_N",
    "COMPRESSED_MIN_N",
]

FLAT_MAX_N = 20_000
FLAT_MAX_WORK = FLAT_MAX_N * 384  # floats one exact query reads
HNSW_MAX_N = 1_000_000
COMPRESSED_MIN_N = 10_000_000

HNSW_M = 32
# Level 0 holds 2*M links per vector; upper levels and vector<> slack add about half again.
HNSW_GRAPH_OVERHEAD = 1.5
# FAISS k-means wants >= 39 training points per centroid; below that centroids are noise.
MIN_POINTS_PER_LIST = 39
# Product quantisers train 256 centroids per sub-quantiser, so they need ~39*256 vectors.
PQ_MIN_N = MIN_POINTS_PER_LIST * 256
# Target bytes of float32 per PQ code byte: dim/4 sub-quantisers = 16x smaller than Flat.
PQ_DIMS_PER_SUBQUANTIZER = 4
# An OPQ rotation first spreads variance evenly over the sub-quantisers. It pays at the
# encoders' high dimensions (384, 1280), where a few directions carry most of the variance;
# below this its training (many PQ fits) costs more than it gives.
OPQ_MIN_DIM = 256
# IVF builds keep a direct map (row -> list) so filtered fallbacks can reconstruct rows.
_ID_BYTES = 8 + 8


def ivf_nlist(n: int) -> int:
    """Number of IVF lists for n vectors: 4*sqrt(n) to the nearest power of two, >= 39 points per list."""
    n = checks.positive_int("n", n)
    nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
    while nlist > 1 and nlist * MIN_POINTS_PER_LIST > n:
        nlist //= 2
    return nlist


def pq_subquantizers(dim: int) -> int:
    """PQ code size in bytes: the divisor of dim closest to dim/4 (FAISS needs m | dim)."""
    dim = checks.positive_int("dim", dim)
    target = dim / PQ_DIMS_PER_SUBQUANTIZER
    divisors = [m for m in range(1, dim + 1) if dim % m == 0]
    return min(divisors, key=lambda m: (abs(m - target), m))


def _ranked(n: int, dim: int) -> list[str]:
    nlist, m = ivf_nlist(n), pq_subquantizers(dim)
    # Past a million vectors, assigning each to its list through a flat quantizer (n x nlist dot
    # products: 10M x 16k x 384 is 126 TFLOP) dwarfs the rest of the build; an HNSW graph over
    # the centroids finds the list in microseconds.
    ivf = f"IVF{nlist}_HNSW{HNSW_M}" if n >= HNSW_MAX_N else f"IVF{nlist}"
    ivf_flat, ivf_sq8 = f"{ivf},Flat", f"{ivf},SQ8"
    # "np": no polysemous training, which only serves Hamming pre-filtering (unused here) and
    # made PQ training several times slower.
    rotate = f"OPQ{m}," if dim >= OPQ_MIN_DIM else ""
    compressed = [ivf_sq8] + ([f"{rotate}{ivf},PQ{m}np"] if n >= PQ_MIN_N else [])
    if n < FLAT_MAX_N and n * dim < FLAT_MAX_WORK:
        # No IVF for tiny n: lists would be too short to be worth probing.
        return ["Flat", "SQ8"] + ([f"PQ{m}np"] if n >= PQ_MIN_N else [])
    if n < HNSW_MAX_N:
        return [f"HNSW{HNSW_M}", ivf_flat, "Flat", *compressed]
    if n < COMPRESSED_MIN_N:
        return [ivf_flat, "Flat", *compressed]
    return [ivf_sq8, ivf_flat, "Flat", *compressed[1:]]


def get_optimal_index_specs(n: int, dim: int, memory_budget_bytes: int | None = None) -> list[str]:
    """Ranked FAISS index_factory strings for n vectors of dimension dim, best first.

    With `memory_budget_bytes`, only specs whose estimated in-memory size fits
    are returned. A builder tries them in order and keeps the first that meets
    its recall target, so the list ends in ``Flat`` whenever Flat fits.
    """
    n = checks.positive_int("n", n)
    dim = checks.positive_int("dim", dim)
    ranked = _ranked(n, dim)
    if memory_budget_bytes is None:
        return ranked
    budget = checks.positive_int("memory_budget_bytes", memory_budget_bytes)
    fitting = [s for s in ranked if estimate_index_bytes(s, n, dim) <= budget]
    if not fitting:
        smallest = min(estimate_index_bytes(s, n, dim) for s in ranked)
        raise ValueError(
            f"memory_budget_bytes={budget} is below the smallest index for n={n}, dim={dim} "
            f"(~{smallest} bytes); raise the budget or reduce the dimension"
        )
    return fitting


_PATTERNS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"Flat"), lambda n, d: n * d * 4),
    (re.compile(r"SQ8"), lambda n, d: n * d + 2 * d * 4),
    (re.compile(r"PQ(\d+)(?:np)?"), lambda n, d, m: n * m + 256 * d * 4),
    (re.compile(r"HNSW(\d+)(?:,Flat)?"), lambda n, d, mm: n * (d * 4 + mm * 2 * 4 * HNSW_GRAPH_OVERHEAD + 8)),
    (re.compile(r"IVF(\d+)(?:_HNSW\d+)?,Flat"), lambda n, d, nl: n * (d * 4 + _ID_BYTES) + nl * d * 4),
    (re.compile(r"IVF(\d+)(?:_HNSW\d+)?,SQ8"), lambda n, d, nl: n * (d + _ID_BYTES) + nl * d * 4 + 2 * d * 4),
    (
        re.compile(r"OPQ(\d+),IVF(\d+)(?:_HNSW\d+)?,PQ(\d+)(?:np)?"),
        lambda n, d, _o, nl, m: n * (m + _ID_BYTES) + nl * d * 4 + 256 * d * 4 + d * d * 4,
    ),
    (re.compile(r"IVF(\d+)(?:_HNSW\d+)?,PQ(\d+)(?:np)?"), lambda n, d, nl, m: n * (m + _ID_BYTES) + nl * d * 4 + 256 * d * 4),
]


def estimate_index_bytes(spec: str, n: int, dim: int) -> int:
    """Approximate resident size of a built index; covers the specs this module produces."""
    n = checks.positive_int("n", n)
    dim = checks.positive_int("dim", dim)
    for pattern, size in _PATTERNS:
        match = pattern.fullmatch(spec)
        if match:
            return int(size(n, dim, *(int(g) for g in match.groups())))  # type: ignore[operator]
    raise ValueError(
        f"spec={spec!r} has no memory estimate; use one of Flat, SQ8, PQ<m>, HNSW<M>, "
        "IVF<nlist>,Flat, IVF<nlist>,SQ8, IVF<nlist>,PQ<m>, OPQ<m>,IVF<nlist>,PQ<m>"
    )
