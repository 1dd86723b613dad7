"""GPU against CPU in one run: IVF build, batched search, the CPU round trip, CAGRA -> HNSW.

    python bench/gpu_index.py --n 1000000 --dim 384 --queries 10000

Data: seeded clustered unit vectors (`ClusteredSphere`), queries held out. Rows:

* IVF build: `build_index(spec="IVF{nlist},Flat")`, the indexer's own path, once with the
  GPUs hidden (`faiss.get_num_gpus` patched to 0) and once with them (k-means on the GPUs).
* batched search of the CPU-built index on the CPU, and the same index copied to the GPUs
  (`faiss.index_cpu_to_all_gpus`), at the tuned nprobe; recall@10 against exact search.
* round trip: the GPU-trained index is written and read back on the CPU, and must return
  exactly what it returned before it was written.
* CAGRA -> HNSW: only with a cuVS build of faiss (`faiss.GpuIndexCagra`): the graph is built on
  the GPU, copied into a CPU `IndexHNSWCagra`, and searched on the CPU.

Without a GPU the GPU rows say so and the CPU rows still run (a quick check of the script).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

K = 10


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _cagra_row(base: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> str:
    if not hasattr(faiss, "GpuIndexCagra"):
        return "| CAGRA -> HNSW | not in this faiss build (needs faiss-gpu-cuvs) | | | |"
    res = faiss.StandardGpuResources()
    config = faiss.GpuIndexCagraConfig()
    config.graph_degree, config.intermediate_graph_degree = 32, 64
    gpu = faiss.GpuIndexCagra(res, base.shape[1], faiss.METRIC_INNER_PRODUCT, config)
    _, build_s = _timed(lambda: gpu.train(base))
    cpu = faiss.IndexHNSWCagra()
    gpu.copyTo(cpu)
    cpu.hnsw.efSearch = 128
    (_, found), search_s = _timed(lambda: cpu.search(queries, K))
    return f"| CAGRA -> HNSW (GPU build, CPU search) | {build_s:.1f} | {len(queries) / search_s:,.0f} | {_recall(found, truth):.3f} | |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--nlist", type=int, default=4096)
    args = parser.parse_args()

    from vitrina.indexer.index import build_index
    from vitrina.indexer.index.gpu import gpu_count
    from vitrina.indexer.index.synthetic import ClusteredSphere

    sphere = ClusteredSphere(args.dim, n_clusters=1000, seed=0)
    base = sphere.sample(args.n, seed=1)
    queries = sphere.sample(args.queries, seed=2)
    exact = faiss.IndexFlatIP(args.dim)
    exact.add(base)
    truth = exact.search(queries, K)[1]
    gpus = gpu_count()
    spec = f"IVF{args.nlist},Flat"
    print(f"{args.n:,} x {args.dim}-d, {args.queries:,} queries, {spec}; GPUs: {gpus}, CPU threads: {faiss.omp_get_max_threads()}\n")
    print("| step | build s | QPS (batched) | recall@10 | note |")
    print("|---|---:|---:|---:|---|")

    real_count = faiss.get_num_gpus
    faiss.get_num_gpus = lambda: 0  # the CPU build: the indexer sees no GPU
    try:
        (cpu_index, cpu_info), cpu_build = _timed(lambda: build_index(base, spec=spec, target_recall=0.95))
    finally:
        faiss.get_num_gpus = real_count
    (_, found), cpu_search = _timed(lambda: cpu_index.search(queries, K))
    print(f"| IVF on CPU | {cpu_build:.1f} | {len(queries) / cpu_search:,.0f} | {_recall(found, truth):.3f} | {cpu_info.search_params} |")
    if gpus == 0:
        print("| IVF with GPU k-means | no GPU | | | |\n| IVF searched on GPU | no GPU | | | |")
        return
    (gpu_index, gpu_info), gpu_build = _timed(lambda: build_index(base, spec=spec, target_recall=0.95))
    print(f"| IVF with GPU k-means | {gpu_build:.1f} | | {gpu_info.recall_at_10:.3f} (tuning) | "
          f"{cpu_build / gpu_build:.1f}x faster build |")
    on_gpu = faiss.index_cpu_to_all_gpus(cpu_index.index)
    faiss.GpuParameterSpace().set_index_parameter(on_gpu, "nprobe", cpu_info.search_params.get("nprobe", 1))
    (_, found), gpu_search = _timed(lambda: on_gpu.search(queries, K))
    print(f"| IVF searched on GPU | | {len(queries) / gpu_search:,.0f} | {_recall(found, truth):.3f} | "
          f"{cpu_search / gpu_search:.1f}x the CPU's QPS |")
    before = gpu_index.search(queries[:1000], K)[1]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.faiss"
        gpu_index.save(path)
        reread = faiss.read_index(str(path))
        reread.nprobe = gpu_info.search_params.get("nprobe", 1)
        same = np.array_equal(reread.search(queries[:1000], K)[1], before)
    print(f"| round trip (GPU-trained, written, read on CPU) | | | | {'identical' if same else 'DIFFERENT'} results |")
    print(_cagra_row(base, queries, truth))


if __name__ == "__main__":
    main()
