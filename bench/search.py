"""Search benchmark on synthetic clustered embeddings: build, memory, latency, QPS, recall.

    .venv/bin/python bench/search.py --sizes 10000,100000 --dim 384 --queries 1000

For each size N the candidates are: Flat, the automatic choice
(get_optimal_index_specs(N, dim)[0]), HNSW32 and IVF{nlist},Flat; each is built
with build_index (target recall 0.95, 1000 tuning rows) and measured on held-out
queries against exact ground truth from a FAISS Flat index. Single-query
latency is taken with --single-threads OpenMP threads (default 1: a server
gets its parallelism from concurrent requests, and OpenMP fork/join around a
single small query costs more than it saves); batches use every core.

Each candidate runs in its own freshly spawned process, so "peak RSS" is that
candidate's own high-water mark (Python + FAISS + the N vectors it was built
from + the index + tuning temporaries), not the running maximum of the whole
benchmark.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import run_in_child

K = 10
BATCH = 1000


def _candidates(n: int, dim: int) -> list[tuple[str, str]]:
    from vitrina.indexer.index import get_optimal_index_specs, ivf_nlist

    auto = get_optimal_index_specs(n, dim)[0]
    rows, seen = [], set()
    for label, spec in [("auto", auto), ("Flat", "Flat"), ("HNSW32", "HNSW32"), ("IVF", f"IVF{ivf_nlist(n)},Flat")]:
        if spec in seen:
            continue
        seen.add(spec)
        rows.append((f"{spec} (auto)" if label == "auto" else spec, spec))
    return rows


def _measure(workdir: str, spec: str, seed: int, single_threads: int, out: mp.Queue) -> None:
    """Child process: build one index and time it. Reports a dict through `out`."""
    import faiss

    from vitrina.indexer.index import build_index, recall_at_k

    base = np.load(f"{workdir}/base.npy")
    queries = np.load(f"{workdir}/queries.npy")
    truth = np.load(f"{workdir}/truth.npy")
    index, info = build_index(base, spec=spec, target_recall=0.95, sample_size=1000, seed=seed)
    path = Path(workdir) / "index.faiss"
    index.save(path)
    size = path.stat().st_size
    path.unlink()

    all_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(single_threads)
    index.search(queries[:10], K)  # warm-up: first-touch page faults, thread pool start
    latencies = np.empty(len(queries))
    for i in range(len(queries)):
        t = time.perf_counter()
        index.search(queries[i : i + 1], K)
        latencies[i] = time.perf_counter() - t

    faiss.omp_set_num_threads(all_threads)
    rows = np.empty((len(queries), K), dtype=np.int64)
    t = time.perf_counter()
    for start in range(0, len(queries), BATCH):
        rows[start : start + BATCH] = index.search(queries[start : start + BATCH], K)[1]
    batched = time.perf_counter() - t

    out.put(
        {
            "params": ", ".join(f"{k}={v}" for k, v in index.search_params.items()) or "-",
            "build_s": info.build_seconds,
            "tune_recall": info.recall_at_10,
            "size_mb": size / 2**20,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "qps_1": len(queries) / latencies.sum(),
            "p50_ms": float(np.percentile(latencies, 50) * 1e3),
            "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "qps_batch": len(queries) / batched,
            "recall": recall_at_k(rows, truth, K),
        }
    )


PEER = "usearch"


def _measure_usearch(workdir: str, spec: str, seed: int, single_threads: int, out: mp.Queue) -> None:
    """Child process: the peer, USearch's HNSW (connectivity 32, like HNSW32).

    USearch has no recall tuner, so expansion_search is swept and the smallest
    value reaching recall@10 >= 0.95 on the held-out queries is kept: that
    tunes on the test queries, which favours the peer.
    """
    from usearch.index import Index

    from vitrina.indexer.index import recall_at_k

    base = np.load(f"{workdir}/base.npy")
    queries = np.load(f"{workdir}/queries.npy")
    truth = np.load(f"{workdir}/truth.npy")
    t = time.perf_counter()
    index = Index(ndim=base.shape[1], metric="ip", dtype="f32", connectivity=32, expansion_add=96)
    index.add(np.arange(len(base)), base, threads=0)
    build_s = time.perf_counter() - t
    for ef in (16, 32, 64, 128, 256, 512, 1024):
        index.expansion_search = ef
        rows = index.search(queries, K, threads=0).keys
        if recall_at_k(rows, truth, K) >= 0.95:
            break
    path = Path(workdir) / "peer.usearch"
    index.save(str(path))
    size = path.stat().st_size
    path.unlink()
    latencies = np.empty(len(queries))
    index.search(queries[:10], K, threads=single_threads)
    for i in range(len(queries)):
        t = time.perf_counter()
        index.search(queries[i], K, threads=single_threads)
        latencies[i] = time.perf_counter() - t
    t = time.perf_counter()
    rows = index.search(queries, K, threads=0).keys
    batched = time.perf_counter() - t
    out.put(
        {
            "params": f"expansion_search={ef}",
            "build_s": build_s,
            "tune_recall": float("nan"),
            "size_mb": size / 2**20,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "qps_1": len(queries) / latencies.sum(),
            "p50_ms": float(np.percentile(latencies, 50) * 1e3),
            "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "qps_batch": len(queries) / batched,
            "recall": recall_at_k(np.asarray(rows, dtype=np.int64), truth, K),
        }
    )


def _run_in_child(workdir: str, spec: str, seed: int, single_threads: int) -> dict:
    return run_in_child(_measure_usearch if spec == PEER else _measure, workdir, spec, seed, single_threads)


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"  # NaN: not measured (the peer has no tuner)


def bench_size(n: int, dim: int, n_queries: int, seed: int, specs: list[str] | None, single_threads: int) -> str:
    import faiss

    from vitrina.indexer.index.synthetic import ClusteredSphere

    t = time.perf_counter()
    # About 1000 rows per cluster, like topics in a catalogue; at least 64 so small N still has structure.
    mixture = ClusteredSphere(dim, n_clusters=int(np.clip(n // 1000, 64, 1024)), seed=seed)
    base = mixture.sample(n, seed=seed + 1)
    queries = mixture.sample(n_queries, seed=seed + 2)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    truth = flat.search(queries, K)[1]  # exact ground truth; 1000 x 1M is seconds with BLAS
    del flat
    truth_s = time.perf_counter() - t

    candidates = _candidates(n, dim) if specs is None else [(s, s) for s in specs]
    try:
        import usearch  # noqa: F401  (optional peer: pip install usearch)

        candidates.append(("usearch HNSW, M=32 (peer)", PEER))
    except ImportError:
        print("  usearch not installed: the peer row is skipped", file=sys.stderr)
    lines = [
        f"### N = {n:,} x {dim}-d, {n_queries} held-out queries, k = {K}",
        "",
        f"data generation {gen_s:.1f} s, exact ground truth {truth_s:.1f} s; "
        f"vectors alone are {base.nbytes / 2**20:.0f} MiB",
        "",
        "| index | tuned params | build+tune s | tuning recall@10 | held-out recall@10 | serialized MiB "
        "| peak RSS MiB | 1-query QPS | p50 ms | p99 ms | batch-1000 QPS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="vitrina-bench-") as workdir:
        np.save(f"{workdir}/base.npy", base)
        np.save(f"{workdir}/queries.npy", queries)
        np.save(f"{workdir}/truth.npy", truth)
        del base
        for label, spec in candidates:
            print(f"  N={n:,}: {label} ...", file=sys.stderr, flush=True)
            r = _run_in_child(workdir, spec, seed, single_threads)
            lines.append(
                f"| {label} | {r['params']} | {r['build_s']:.1f} | {_fmt(r['tune_recall'])} | {r['recall']:.3f} "
                f"| {r['size_mb']:.1f} | {r['rss_mb']:.0f} | {r['qps_1']:.0f} | {r['p50_ms']:.2f} "
                f"| {r['p99_ms']:.2f} | {r['qps_batch']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated N, e.g. 10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000, help="held-out queries per size")
    parser.add_argument("--specs", default=None, help="comma-separated factory strings instead of the default four")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--single-threads", type=int, default=1,
        help="OpenMP threads for the one-query-at-a-time loop (servers parallelise across requests)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the tables (markdown) to this file")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    specs = args.specs.split(";") if args.specs and ";" in args.specs else None
    if args.specs and specs is None:
        # Factory strings contain commas ("IVF1024,Flat"), so split on ';' when present, else on ' '.
        specs = args.specs.split()

    import faiss

    header = [
        "## Search benchmark (synthetic clustered vectors)",
        "",
        f"`{shlex.join(['python', 'bench/search.py', *(argv if argv is not None else sys.argv[1:])])}`",
        "",
        f"faiss {faiss.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores, {platform.machine()}; single-query loop on "
        f"{args.single_threads} OpenMP thread(s), batches on all cores",
        "",
    ]
    print("\n".join(header), flush=True)
    chunks = list(header)
    for n in sizes:
        table = bench_size(n, args.dim, args.queries, args.seed, specs, args.single_threads)
        print(table, flush=True)
        chunks.append(table)
        if args.out:
            args.out.write_text("\n".join(chunks))


if __name__ == "__main__":
    main()
