"""vitrina's tuned HNSW against hnswlib and raw FAISS, side by side, at recall@10 targets.

    python bench/graph_peers.py --n 100000 --dim 384 --targets 0.95,0.99
    python bench/graph_peers.py --bundle /var/tmp/demo8/bundles/openclipart --space image

On one set of vectors (synthetic clustered unit vectors, or a bundle space's real embeddings
with 1,000 of its rows held out as queries), for each recall target:
- vitrina: `build_index(spec="HNSW32", target_recall=t)`, saved and loaded as the server loads
  it (`VectorIndex.load` over the memory-mapped vectors.npy), searched through `VectorIndex.search`;
- raw FAISS: the same HNSW32 graph (efConstruction 96) searched directly, efSearch swept;
- hnswlib (M 16, ef_construction 200), ef swept.
Peers' sweeps pick the smallest ef reaching the target on the held-out queries themselves,
which favours the peers; vitrina tunes on a sample of its own rows. Each candidate runs in a
fresh process (vitrina's build in one more, as the indexer and the server are apart), so its
memory is its own: RSS while serving (the vectors memory-mapped count as far as they were read). Single queries run on 1 thread, batches on all.
Needs `pip install hnswlib` (not a vitrina dependency).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import run_in_child

K = 10
EF_SWEEP = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def _recall(rows: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(r) & set(t)) / K for r, t in zip(rows, truth)]))


def _timed(search_one, search_batch, queries: np.ndarray) -> dict:
    search_one(queries[:1])
    latencies = np.empty(len(queries))
    for i in range(len(queries)):
        start = time.perf_counter()
        search_one(queries[i : i + 1])
        latencies[i] = time.perf_counter() - start
    start = time.perf_counter()
    rows = search_batch(queries)
    batched = time.perf_counter() - start
    return {"qps_1": len(queries) / latencies.sum(), "p50_ms": float(np.median(latencies) * 1e3),
            "qps_batch": len(queries) / batched, "rows": rows}


def _timed_faiss(search, queries: np.ndarray) -> dict:
    """_timed with FAISS's OpenMP pool at one thread for single queries and every core for the batch."""
    import faiss

    threads = faiss.omp_get_max_threads()

    def one(q):
        faiss.omp_set_num_threads(1)
        return search(q)

    def batch(q):
        faiss.omp_set_num_threads(threads)
        return search(q)

    return _timed(one, batch, queries)


def _vitrina_build(folder: str, target: float, out: mp.Queue) -> None:
    """What `vitrina index build` does for the space: build, tune, save (in a process of its own)."""
    import json

    from vitrina.indexer.index import build_index

    base = np.load(f"{folder}/base.npy")
    start = time.perf_counter()
    index, info = build_index(base, spec="HNSW32", target_recall=target)
    build_s = time.perf_counter() - start
    index.save(f"{folder}/vitrina.faiss")
    Path(f"{folder}/vitrina.json").write_text(info.model_dump_json())
    out.put({"build_s": build_s, "params": json.dumps(info.search_params)})


def _vitrina(folder: str, target: float, out: mp.Queue) -> None:
    from vitrina.indexer.index import VectorIndex
    from vitrina.schemas.manifest import IndexInfo

    built = run_in_child(_vitrina_build, folder, target)
    queries, truth = np.load(f"{folder}/queries.npy"), np.load(f"{folder}/truth.npy")
    info = IndexInfo.model_validate_json(Path(f"{folder}/vitrina.json").read_text())
    # As the server holds it: the index file read back, the vectors memory-mapped from vectors.npy.
    served = VectorIndex.load(f"{folder}/vitrina.faiss", info, vectors=np.load(f"{folder}/base.npy", mmap_mode="r"),
                              use_gpu=False)
    timed = _timed_faiss(lambda q: served.search(q, K)[1], queries)
    out.put({"params": f"efSearch={info.search_params.get('efSearch')}", "build_s": built["build_s"],
             "recall": _recall(timed.pop("rows"), truth), **timed, **_memory()})


def _memory() -> dict:
    """Resident memory now: what serving holds, MiB. (Not the peak: a spawned child's ru_maxrss
    starts from its parent's at the fork, and the parent holds the data and ground truth.)"""
    with open("/proc/self/statm") as fh:
        resident_pages = int(fh.read().split()[1])
    return {"rss_mb": resident_pages * resource.getpagesize() / 2**20}


def _swept(search, queries, truth, target, set_ef):
    for ef in EF_SWEEP:
        set_ef(ef)
        if _recall(search(queries), truth) >= target:
            return ef
    return EF_SWEEP[-1]


def _faiss(folder: str, target: float, out: mp.Queue) -> None:
    import faiss

    base = np.load(f"{folder}/base.npy")
    queries, truth = np.load(f"{folder}/queries.npy"), np.load(f"{folder}/truth.npy")
    start = time.perf_counter()
    index = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 96
    index.add(base)
    build_s = time.perf_counter() - start
    del base
    ef = _swept(lambda q: index.search(q, K)[1], queries, truth, target,
                lambda e: setattr(index.hnsw, "efSearch", e))
    timed = _timed_faiss(lambda q: index.search(q, K)[1], queries)
    out.put({"params": f"efSearch={ef}", "build_s": build_s, "recall": _recall(timed.pop("rows"), truth), **timed,
             **_memory()})


def _hnswlib(folder: str, target: float, out: mp.Queue) -> None:
    import hnswlib

    base = np.load(f"{folder}/base.npy")
    queries, truth = np.load(f"{folder}/queries.npy"), np.load(f"{folder}/truth.npy")
    start = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), ef_construction=200, M=16, random_seed=0)
    index.add_items(base, np.arange(len(base)), num_threads=-1)
    build_s = time.perf_counter() - start
    del base
    ef = _swept(lambda q: index.knn_query(q, K, num_threads=-1)[0], queries, truth, target, index.set_ef)
    timed = _timed(lambda q: index.knn_query(q, K, num_threads=1)[0],
                   lambda q: index.knn_query(q, K, num_threads=-1)[0], queries)
    out.put({"params": f"ef={ef}", "build_s": build_s, "recall": _recall(timed.pop("rows"), truth), **timed,
             **_memory()})


CANDIDATES = {"vitrina HNSW32 (tuned, as served)": _vitrina, "raw FAISS HNSW32": _faiss,
              "hnswlib M16 efC200 (peer)": _hnswlib}


def _data(args, folder: Path) -> str:
    import faiss

    if args.bundle:
        from vitrina.indexer.bundle.reader import Bundle

        bundle = Bundle.open(Path(args.bundle).parent, Path(args.bundle).name)
        vectors = np.ascontiguousarray(bundle.spaces[args.space].vectors, dtype=np.float32)
        order = np.random.default_rng(args.seed).permutation(len(vectors))
        queries, base = vectors[order[: args.queries]], vectors[order[args.queries :]]
        label = f"{args.bundle} space {args.space}: {len(base):,} x {base.shape[1]} real embeddings"
    else:
        from vitrina.indexer.index.synthetic import ClusteredSphere

        mixture = ClusteredSphere(args.dim, n_clusters=int(np.clip(args.n // 1000, 64, 1024)), seed=args.seed)
        base, queries = mixture.sample(args.n, seed=args.seed + 1), mixture.sample(args.queries, seed=args.seed + 2)
        label = f"{args.n:,} x {args.dim} synthetic clustered unit vectors"
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    np.save(folder / "base.npy", base)
    np.save(folder / "queries.npy", queries)
    np.save(folder / "truth.npy", flat.search(queries, K)[1])
    return f"{label}, {len(queries)} held-out queries; the vectors alone are {base.nbytes / 2**20:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--targets", default="0.95,0.99")
    parser.add_argument("--bundle", help="a collection folder: use its space's real embeddings instead")
    parser.add_argument("--space", default="image")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(_data(args, Path(tmp)) + "\n")
        print("| target | index | params | build s | recall@10 | QPS (1 thread) | p50 ms | QPS (batch) | "
              "RSS serving MiB |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for target in (float(t) for t in args.targets.split(",")):
            for label, fn in CANDIDATES.items():
                r = run_in_child(fn, tmp, target)
                print(f"| {target} | {label} | {r['params']} | {r['build_s']:.1f} | {r['recall']:.4f} | "
                      f"{r['qps_1']:.0f} | {r['p50_ms']:.3f} | {r['qps_batch']:.0f} | {r['rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
