"""An index larger than the server's RAM budget: 10M x 384 synthetic vectors, IVF-PQ on disk.

    python bench/scale.py --n 10000000 --work /var/tmp/vitrina-scale

Builds the way the indexer does at that size: IVF-PQ (OPQ with --opq) trained on a sample, filled shard by
shard and merged into on-disk inverted lists (indexer/index/ondisk.py), with the raw vectors
kept in a memory-mapped .npy for re-ranking. Then a fresh process serves it as vitrina's server
does (VectorIndex.load: lists memory-mapped, vectors memory-mapped) and reports, per nprobe:
recall@10 against exact search, single-query latency and QPS, batched QPS; the resident memory
(anonymous and file-backed) while serving; the latency of the first queries after the files
are dropped from the page cache. Vectors, ground truth and index are kept in --work and reused.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from _machine import machine
from tqdm import tqdm

from vitrina.indexer.index import VectorIndex
from vitrina.indexer.index.exact import exact_search
from vitrina.indexer.index.metrics import recall_at_k
from vitrina.indexer.index.ondisk import build_ondisk_ivf, ivfdata_path
from vitrina.indexer.index.synthetic import ClusteredSphere
from vitrina.schemas.bundle_files import open_vectors
from vitrina.schemas.manifest import IndexInfo

K = 10
GEN_BATCH = 250_000


def _mixture(dim: int) -> ClusteredSphere:
    return ClusteredSphere(dim, n_clusters=1024, seed=0)


def _vectors(work: Path, n: int, dim: int) -> tuple[np.ndarray, float]:
    path = work / "vectors.npy"
    if path.exists():
        return open_vectors(path, n, dim), 0.0
    start = time.perf_counter()
    out = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), mode="w+", dtype=np.float32, shape=(n, dim))
    mixture = _mixture(dim)
    for b, s in enumerate(tqdm(range(0, n, GEN_BATCH), desc="generate", unit="batch")):
        out[s : s + GEN_BATCH] = mixture.sample(min(GEN_BATCH, n - s), seed=1 + b)
    out.flush()
    del out
    path.with_suffix(".tmp.npy").replace(path)
    return open_vectors(path, n, dim), time.perf_counter() - start


def _truth(work: Path, vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, float]:
    path = work / f"truth-{len(queries)}.npy"
    if path.exists():
        return np.load(path), 0.0
    start = time.perf_counter()
    rows = exact_search(vectors, queries, K)[1]
    np.save(path, rows)
    return rows, time.perf_counter() - start


def build(args) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    vectors, gen_s = _vectors(work, args.n, args.dim)
    queries = _mixture(args.dim).sample(args.queries, seed=10**6)
    np.save(work / "queries.npy", queries)
    _, truth_s = _truth(work, vectors, queries)
    index_path = work / "index.faiss"
    spec = f"{f'OPQ{args.m},' if args.opq else ''}IVF{args.nlist}_HNSW32,PQ{args.m}np"
    timings = {"generate_s": gen_s, "exact_truth_s": truth_s}
    if not index_path.exists():
        index = faiss.index_factory(args.dim, spec, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(args.n, size=min(args.n, args.train), replace=False))]
        faiss.extract_index_ivf(index).cp.niter = 10
        start = time.perf_counter()
        index.train(np.ascontiguousarray(sample))
        timings["train_s"] = time.perf_counter() - start
        start = time.perf_counter()
        build_ondisk_ivf(index, vectors, index_path, shard_rows=args.shard)
        timings["add_and_merge_s"] = time.perf_counter() - start
        (work / "build.json").write_text(json.dumps({"spec": spec, **timings}))
    built = json.loads((work / "build.json").read_text())
    on_disk = index_path.stat().st_size + ivfdata_path(index_path).stat().st_size
    print(f"# {machine()}")
    print(f"# {args.n:,} x {args.dim} vectors, {built['spec']}, train sample {args.train:,}")
    print("| step | seconds |\n|---|---|")
    for key in ("generate_s", "exact_truth_s", "train_s", "add_and_merge_s"):
        value = timings.get(key) or built.get(key)
        if value:
            print(f"| {key[:-2].replace('_', ' ')} | {value:.0f} |")
    print(f"\nindex bytes per vector: {on_disk / args.n:.1f} (index file + on-disk lists, {on_disk / 2**30:.2f} GiB); "
          f"raw vectors on disk {(work / 'vectors.npy').stat().st_size / 2**30:.1f} GiB, memory-mapped\n")
    subprocess.run([sys.executable, __file__, "--serve", "--work", str(work), "--n", str(args.n),
                    "--dim", str(args.dim), "--queries", str(args.queries)], check=True)


def _disk_read_mib() -> float:
    """MiB this process has made the kernel read from disk (page-cache hits do not count)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["read_bytes"]) / 2**20


def _anonymous_mib() -> float:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["RssAnon"].split()[0]) / 1024


def _mapped_mib(paths: set[str]) -> float:
    """Resident MiB of this process's mappings of `paths` (pages it shares with the page cache)."""
    total, current = 0, None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's header line
            current = head[5] if len(head) > 5 else None
        elif head and head[0] == "Rss:" and current in paths:
            total += int(head[1])
    return total / 1024


def _drop_from_page_cache(*paths: Path) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def serve(args) -> None:
    work = Path(args.work)
    index_path = work / "index.faiss"
    queries = np.load(work / "queries.npy")
    truth = np.load(work / f"truth-{args.queries}.npy")
    _drop_from_page_cache(index_path, ivfdata_path(index_path), work / "vectors.npy")
    before = _anonymous_mib()
    vectors = open_vectors(work / "vectors.npy", args.n, args.dim)
    info = IndexInfo(factory="on-disk", search_params={"nprobe": 16, "rerank": 10}, recall_at_10=0.0,
                     recall_sample=0, build_seconds=0.0)
    start = time.perf_counter()
    index = VectorIndex.load(index_path, info, vectors=vectors, use_gpu=False)
    load_s = time.perf_counter() - start
    cold, read_before = [], _disk_read_mib()
    for q in queries[:20]:
        t = time.perf_counter()
        index.search(q[None], K)
        cold.append((time.perf_counter() - t) * 1000)
    print(f"load {load_s:.1f} s; first 20 queries after dropping the files from the page cache (nprobe 16): "
          f"p50 {np.percentile(cold, 50):.0f} ms, max {max(cold):.0f} ms, {_disk_read_mib() - read_before:.0f} MiB "
          "read from disk\n")
    print("| nprobe | rerank | recall@10 | p50 ms | p99 ms | QPS one at a time | QPS batched |")
    print("|---|---|---|---|---|---|---|")
    for nprobe in args.nprobes:
        for rerank in (1, 10):
            index.search_params = {"nprobe": nprobe, "rerank": rerank}
            index.search(queries[:20], K)  # warm the lists this setting reads
            lat, rows = [], []
            for q in queries:
                t = time.perf_counter()
                rows.append(index.search(q[None], K)[1][0])
                lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            index.search(queries, K)
            batched = len(queries) / (time.perf_counter() - t)
            recall = recall_at_k(np.array(rows), truth, K)
            print(f"| {nprobe} | {rerank} | {recall:.3f} | {np.percentile(lat, 50) * 1000:.1f} | "
                  f"{np.percentile(lat, 99) * 1000:.1f} | {1 / np.mean(lat):.0f} | {batched:.0f} |")
    print(f"\nread from disk while serving: {_disk_read_mib() - read_before:.0f} MiB")
    files = {str(p) for p in (index_path, ivfdata_path(index_path), work / "vectors.npy")}
    print(f"\nresident while serving: {_anonymous_mib() - before:.0f} MiB anonymous (the index's own structures) + "
          f"{_mapped_mib(files):.0f} MiB of the bundle's files mapped in (page cache: reclaimable, shared by every "
          "process serving the bundle; the kernel also maps cached pages around each one touched)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--nlist", type=int, default=4096)
    parser.add_argument("--m", type=int, default=96, help="PQ bytes a vector (and OPQ output dimension groups)")
    parser.add_argument("--opq", action="store_true", help="rotate with OPQ first (slow to train on few cores)")
    parser.add_argument("--train", type=int, default=200_000, help="training sample (k-means and OPQ)")
    parser.add_argument("--shard", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--nprobes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--work", default="/var/tmp/vitrina-scale")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    serve(args) if args.serve else build(args)


if __name__ == "__main__":
    main()
