"""What settling near-ties costs a search: VectorIndex.search against FAISS's own answer.

    .venv/bin/python bench/ties.py --n 100000 --dims 384,1280 --queries 1000

Every search fetches CUT_SLACK (8) hits past k, rescores them in float64 from the stored
vectors, orders near-ties by row and cuts at k (indexer/index/exact.py::settle_ties), so the
order does not depend on the processor. This times that against the bare FAISS search it
wraps, on the same index, interleaved in one process (the machine is shared and noisy; the
ratio measured side by side is the figure to read): one query at a time on one OpenMP thread
(a server's request, k = 10), and batches of up to 4,096 with k = 21 (what
compute_neighbourhoods asks when precomputing k = 20 neighbours), on ClusteredSphere data
with Flat and HNSW32 indexes.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._stats import percentile  # noqa: E402

BATCH = 4096


def _timed(search, queries: np.ndarray, k: int, batch: int) -> list[float]:
    """Seconds per call of search over `queries` in slices of `batch` rows."""
    times = []
    for start in range(0, len(queries), batch):
        t = time.perf_counter()
        search(queries[start : start + batch], k)
        times.append(time.perf_counter() - t)
    return times


def bench(n: int, dim: int, n_queries: int, spec: str, seed: int) -> list[str]:
    from vitrina.indexer.index import build_index
    from vitrina.indexer.index._faiss_params import search_parameters
    from vitrina.indexer.index.synthetic import ClusteredSphere

    mixture = ClusteredSphere(dim, n_clusters=max(8, n // 1000), seed=seed)
    vectors = mixture.sample(n, seed=seed + 1)
    queries = mixture.sample(n_queries, seed=seed + 2)
    index, _ = build_index(vectors, spec=spec, target_recall=0.95)
    params = search_parameters(index.index, index.search_params, None)

    def raw(queries_: np.ndarray, k: int):
        """What VectorIndex.search did before settling: FAISS's own hits and order."""
        scores, rows = index.index.search(queries_, k, params=params)
        scores[rows < 0] = -np.inf
        return scores, rows

    import faiss

    rows = []
    threads = faiss.omp_get_max_threads()
    batched = min(BATCH, n_queries)
    for label, k, batch in (("one query, k=10", 10, 1), (f"batch {batched:,}, k=21", 21, batched)):
        # One OpenMP thread for single queries, as bench/search.py: a server's parallelism comes
        # from concurrent requests, and fork/join around one small query costs more than it saves.
        faiss.omp_set_num_threads(1 if batch == 1 else threads)
        reps = 1 if batch == 1 else max(1, 3 * BATCH // n_queries)  # about three batches' worth
        on: list[float] = []
        off: list[float] = []
        for _ in range(reps):  # interleaved, so load drifts hit both alike
            for search, out in ((index.search, on), (raw, off)):
                out += _timed(search, queries, k, batch)
        per_query_on = sum(on) / (len(on) * batch)
        per_query_off = sum(off) / (len(off) * batch)
        rows.append(
            f"| {n:,} x {dim} | {spec} | {label} | {percentile(off, 0.5) * 1e3:.3f} / {percentile(off, 0.99) * 1e3:.3f} "
            f"| {percentile(on, 0.5) * 1e3:.3f} / {percentile(on, 0.99) * 1e3:.3f} "
            f"| {1 / per_query_off:,.0f} | {1 / per_query_on:,.0f} | {per_query_on / per_query_off:.2f} |"
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors in the index")
    parser.add_argument("--dims", default="384,1280", help="comma-separated dimensions")
    parser.add_argument("--queries", type=int, default=2000, help="held-out queries")
    parser.add_argument("--specs", default="Flat,HNSW32", help="comma-separated FAISS factory strings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("| vectors | index | calls | raw p50 / p99 ms | settled p50 / p99 ms | raw queries/s | settled queries/s "
          "| time ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for dim in (int(d) for d in args.dims.split(",")):
        for spec in args.specs.split(","):
            for row in bench(args.n, dim, args.queries, spec, args.seed):
                print(row, flush=True)


if __name__ == "__main__":
    main()
