"""Maps benchmark: projection fits, neighbourhood precompute and the projection endpoint.

    .venv/bin/python bench/maps.py --only projections --sizes 10000,100000,1000000 --methods pca,umap,tsne
    .venv/bin/python bench/maps.py --only neighbours --neighbours-n 1000000
    .venv/bin/python bench/maps.py --only endpoint --endpoint-n 100000 --requests 20

Data: seeded synthetic clustered vectors (`ClusteredSphere`, --clusters mixture
components, L2-normalised, --dim 384), the same generator bench/search.py uses.

* projections: `vitrina.indexer.maps.project(vectors, method, seed=0)` -- the
  indexer's own code path and default parameters -- once per (method, n), each
  in a freshly spawned process, so *peak RSS* is that process's ru_maxrss
  (Python + libraries + the n input vectors + the fit) and --timeout-min can
  kill it. The library is imported, and UMAP first fits 5,000 rows in the same
  process (numba JIT compilation), before the clock starts: that is *setup s*.
  Before each run the script extrapolates from the two largest sizes measured
  for that method (power law t = c * n^p through both points); a run whose
  estimate exceeds --timeout-min is not started, and rows whose estimate
  exceeds --budget-min are marked skipped.
* neighbours: `build_index` (the automatic spec for n x dim, as a build uses)
  then `compute_neighbourhoods(k=20)` over every row, then `neighbours_table`
  and `write_neighbours`, in one fresh process. With --neighbour-queries M the
  neighbourhood step instead times the same batched index search on the first
  M rows and extrapolates linearly to n.
* endpoint: builds a real bundle of --endpoint-n items with `build_bundle`
  (one 384-d text space whose "encoder" returns the synthetic vectors),
  writes its projections.parquet, starts `vitrina serve` on a loopback port
  and times GET /v1/spaces/text/projection?method=umap as JSON and as an Arrow
  IPC stream (Accept: application/vnd.apache.arrow.stream) with one
  keep-alive httpx client, one request at a time.
"""
from __future__ import annotations

import argparse
import importlib
import math
import multiprocessing as mp
import os
import queue as queue_mod
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import cpu_s, current_rss_mib, machine, peak_rss_mib

UMAP_WARMUP_ROWS = 5000
ARROW = "application/vnd.apache.arrow.stream"


def synthetic(n: int, dim: int, clusters: int, seed: int, labels: bool = False):
    from vitrina.indexer.index.synthetic import ClusteredSphere

    return ClusteredSphere(dim, n_clusters=clusters, seed=seed).sample(n, seed=seed + 1, return_labels=labels)


# --- children -----------------------------------------------------------------------------------


_LIBRARY = {"umap": "umap", "pca": "sklearn.decomposition", "tsne": "sklearn.manifold", "pacmap": "pacmap"}


def _project_child(path: str, method: str, seed: int, out: mp.Queue) -> None:
    from vitrina.indexer.maps import project

    vectors = np.load(path)
    loaded = current_rss_mib()
    t = time.perf_counter()
    importlib.import_module(_LIBRARY[method])
    if method == "umap" and len(vectors) > UMAP_WARMUP_ROWS:
        project(vectors[:UMAP_WARMUP_ROWS], method, seed=seed)  # numba JIT, on the NNDescent path
    warmup = time.perf_counter() - t
    t, cpu = time.perf_counter(), cpu_s()
    result = project(vectors, method, seed=seed)
    seconds, cpu = time.perf_counter() - t, cpu_s() - cpu
    assert result.coords.shape == (len(vectors), 2)
    print(f"    child {method} n={len(vectors)}: fit {seconds:.1f} s wall, {cpu:.1f} s CPU, "
          f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    out.put({"seconds": seconds, "cpu": cpu, "warmup": warmup, "loaded": loaded, "peak": peak_rss_mib()})


def _neighbours_child(path: str, k: int, queries: int, batch: int, out: mp.Queue) -> None:
    from vitrina.indexer.index import build_index
    from vitrina.indexer.maps import compute_neighbourhoods, neighbours_table, write_neighbours

    vectors = np.load(path)
    n = len(vectors)
    ids = [f"item-{i:07d}" for i in range(n)]
    loaded = current_rss_mib()
    cpu = cpu_s()
    index, info = build_index(vectors)  # automatic spec, default target recall, as `vitrina index build`
    build_cpu = cpu_s() - cpu
    built = peak_rss_mib()
    print(f"    child build_index: {info.factory} {info.search_params} in {info.build_seconds:.1f} s wall, "
          f"{build_cpu:.0f} s CPU, load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    result = {"spec": info.factory, "params": info.search_params, "recall": info.recall_at_10,
              "build_s": info.build_seconds, "build_cpu": build_cpu, "loaded": loaded, "rss_built": built}
    cpu = cpu_s()
    if queries <= 0 or queries >= n:
        t = time.perf_counter()
        table = compute_neighbourhoods(index, vectors, ids, k=k, progress=False)
        result["neigh_s"] = time.perf_counter() - t
        result["queries"] = n
        result["neigh_cpu_search"] = cpu_s() - cpu
        t = time.perf_counter()
        arrow = neighbours_table(table, ids)
        file = Path(path).with_name("neighbours.parquet")
        write_neighbours(arrow, file)
        result["write_s"] = time.perf_counter() - t
        result["file_mib"] = file.stat().st_size / 2**20
        file.unlink()
    else:
        # The loop of compute_neighbourhoods, on the first `queries` rows only.
        t = time.perf_counter()
        for start in range(0, queries, batch):
            index.search(vectors[start : min(start + batch, queries)], k + 1)
        result["neigh_s"] = time.perf_counter() - t
        result["queries"] = queries
    result["neigh_cpu"] = cpu_s() - cpu  # (includes the table + write when those ran)
    result["peak"] = peak_rss_mib()
    out.put(result)


def run_child(target, args: tuple, timeout_s: float) -> dict | None:
    """Run target(*args, queue) in a fresh spawned process; None when it ran out of time."""
    ctx = mp.get_context("spawn")  # clean RSS, no forked OpenMP / numba state
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    deadline = time.monotonic() + timeout_s
    result = None
    while result is None:
        try:
            result = out.get(timeout=5)
        except queue_mod.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{target.__name__}{args} exited with {proc.exitcode}")
            if time.monotonic() > deadline:
                proc.kill()
                proc.join()
                return None
    proc.join()
    return result


# --- projections --------------------------------------------------------------------------------


def extrapolate(measured: dict[int, float], n: int) -> tuple[float, float] | None:
    """(seconds at n, exponent p) from the power law through the two largest measured sizes."""
    if len(measured) < 2:
        return None
    (n1, t1), (n2, t2) = sorted(measured.items())[-2:]
    p = math.log(t2 / t1) / math.log(n2 / n1)
    return t2 * (n / n2) ** p, p


def bench_projections(args, workdir: Path) -> str:
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s)
    methods = [m for m in args.methods.split(",") if m]
    timeout_s = args.timeout_min * 60
    lines = [
        f"{args.dim}-d synthetic clustered vectors ({args.clusters} clusters), `project(vectors, method, seed=0)` with "
        f"the indexer's defaults; per-run timeout {args.timeout_min:g} min, budget {args.budget_min:g} min",
        "",
        "| method | n | status | fit s (wall) | fit CPU s | setup s (import; UMAP also JIT on 5k rows) "
        "| RSS after loading vectors MiB | peak RSS MiB |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    measured: dict[str, dict[int, float]] = {m: {} for m in methods}
    given_up: dict[str, str] = {}
    for n in sizes:
        todo = []
        for method in methods:
            estimate = extrapolate(measured[method], n)
            if method in given_up:
                lines.append(f"| {method} | {n:,} | {given_up[method]} | - | - | - | - | - |")
            elif estimate is not None and estimate[0] > timeout_s:
                minutes, p = estimate[0] / 60, estimate[1]
                if minutes > args.budget_min:
                    status = f"**skipped**: extrapolated {minutes:.0f} min > {args.budget_min:g} min (n^{p:.2f})"
                else:
                    status = f"not run: extrapolated {minutes:.0f} min > {args.timeout_min:g} min timeout (n^{p:.2f})"
                lines.append(f"| {method} | {n:,} | {status} | ~{estimate[0]:.0f} (extrapolated) | - | - | - | - |")
            else:
                todo.append(method)
        if not todo:
            continue
        t = time.perf_counter()
        path = workdir / f"vectors-{n}.npy"
        np.save(path, synthetic(n, args.dim, args.clusters, args.seed))
        print(f"  n={n:,}: data {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        for method in todo:
            print(f"  n={n:,}: {method} ...", file=sys.stderr, flush=True)
            wall = time.perf_counter()
            r = run_child(_project_child, (str(path), method, args.seed), timeout_s)
            if r is None:
                given_up[method] = f"timeout after {args.timeout_min:g} min (larger n not run)"
                lines.append(f"| {method} | {n:,} | killed at {args.timeout_min:g} min timeout | >{timeout_s:.0f} | - | - | - | - |")
                continue
            measured[method][n] = r["seconds"]
            warm = f"{r['warmup']:.1f}"
            lines.append(f"| {method} | {n:,} | measured | {r['seconds']:.1f} | {r['cpu']:.1f} | {warm} | {r['loaded']:.0f} | {r['peak']:.0f} |")
            print(f"    {lines[-1]}  (wall {time.perf_counter() - wall:.0f} s)", file=sys.stderr, flush=True)
        path.unlink()
    return "\n".join(lines) + "\n"


# --- neighbourhoods -----------------------------------------------------------------------------


def bench_neighbours(args, workdir: Path) -> str:
    n = args.neighbours_n
    t = time.perf_counter()
    path = workdir / "vectors.npy"
    np.save(path, synthetic(n, args.dim, args.clusters, args.seed))
    gen = time.perf_counter() - t
    r = run_child(_neighbours_child, (str(path), args.k, args.neighbour_queries, 4096), args.timeout_min * 60)
    path.unlink()
    if r is None:
        return f"neighbours at n={n:,}: killed at the {args.timeout_min:g} min timeout\n"
    qps = r["queries"] / r["neigh_s"]
    full = r["queries"] >= n
    params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
    lines = [
        f"n = {n:,} x {args.dim}-d, k = {args.k}; data generation {gen:.1f} s",
        "",
        "| step | value |",
        "|---|---|",
        f"| index (automatic choice) | {r['spec']}, {params}, tuning recall@10 {r['recall']:.3f} |",
        f"| build_index (train + add + tune) | {r['build_s']:.1f} s wall, {r['build_cpu']:.0f} s CPU |",
        f"| compute_neighbourhoods, {r['queries']:,} queries ({'all rows' if full else 'subset'}) "
        f"| {r['neigh_s']:.1f} s wall ({qps:,.0f} queries/s), {r.get('neigh_cpu_search', r['neigh_cpu']):.0f} s CPU |",
    ]
    if full:
        lines.append(f"| neighbours_table + write_neighbours | {r['write_s']:.1f} s ({r['file_mib']:.0f} MiB file) |")
        total = r["neigh_s"] + r["write_s"]
        lines.append(f"| neighbourhood precompute, measured (compute + write) | {total:.1f} s |")
    else:
        lines.append(f"| neighbourhood search for all {n:,} rows, **extrapolated** (linear) | {n / qps:.0f} s |")
    lines += [
        f"| RSS after loading vectors | {r['loaded']:.0f} MiB |",
        f"| peak RSS after build_index | {r['rss_built']:.0f} MiB |",
        f"| peak RSS of the whole process | {r['peak']:.0f} MiB |",
    ]
    return "\n".join(lines) + "\n"


# --- projection endpoint ------------------------------------------------------------------------


def _bundle(args, root: Path) -> tuple[str, float, float]:
    """A published bundle of endpoint_n items with one 384-d space 'text' and its projections.parquet."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle
    from vitrina.indexer.maps import project
    from vitrina.indexer.maps.space_maps import maps_table
    from vitrina.indexer.maps.projection_files import write_projections
    from vitrina.training.encoders.base import TextEncoder

    n = args.endpoint_n
    vectors, labels = synthetic(n, args.dim, args.clusters, args.seed, labels=True)

    class RowLookup(TextEncoder):
        """Returns the synthetic vector of the row named in the text ("item 123")."""

        dim = args.dim
        spec = "bench:synthetic"
        fingerprint = f"bench-synthetic-{args.seed}"

        def encode(self, batch):
            return vectors[[int(text.split()[1]) for text in batch]]

    catalogue = root / "catalogue.csv"
    pacsv.write_csv(pa.table({
        "id": [f"item-{i:07d}" for i in range(n)],
        "title": [f"item {i}" for i in range(n)],
        "category": [f"c{c}" for c in labels],
    }), catalogue)
    options = BuildOptions(
        progress=False, workers=0, chunk_size=4096, batch_size=1024, index_spec="Flat", neighbours_k=0,
        projections=(), clusterings=(),
        table_options=dict(id_column="id", title_column="title", text_columns=["title"], metadata_columns=["category"]),
    )
    t = time.perf_counter()
    built = build_bundle(f"table:{catalogue}", root / "bundles", "bench", [SpaceRequest("text", "bench:synthetic")],
                         options, encoder_factory=lambda spec, modality=None, **_: RowLookup())
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    pca = project(vectors, "pca", seed=0)
    ids = [f"item-{i:07d}" for i in range(n)]
    # The endpoint's cost depends on the number of points, not where they lie: the umap
    # columns hold the PCA map (fitting UMAP on 100k points takes minutes, see the table above).
    noise = np.where(np.arange(n) % 10 == 0, -1, labels)  # hdbscan-like: a share of noise labels
    write_projections(maps_table(ids, {"umap": pca.coords, "pca": pca.coords},
                                 {"hdbscan": noise.astype(np.int32), "kmeans": labels.astype(np.int32)}),
                      built.paths.projections("text"))
    return built.version, build_s, time.perf_counter() - t


def bench_endpoint(args, workdir: Path) -> str:
    import httpx
    import pyarrow as pa

    from _server import served
    from _stats import percentile

    version, build_s, maps_s = _bundle(args, workdir)
    print(f"  bundle {version}: build {build_s:.1f} s, projections {maps_s:.1f} s", file=sys.stderr, flush=True)
    url = "/v1/spaces/text/projection?method=umap"
    rows = []
    with served(workdir / "bundles", "bench", "--no-preload-encoders") as base, \
            httpx.Client(base_url=base, timeout=120) as client:
        for label, headers in [("JSON", {}), ("Arrow IPC stream", {"Accept": ARROW})]:
            first = time.perf_counter()
            response = client.get(url, headers=headers)  # first request reads projections.parquet
            response.raise_for_status()
            first_ms = (time.perf_counter() - first) * 1000
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                response = client.get(url, headers=headers)
                body = response.content
                times.append((time.perf_counter() - t) * 1000)
                response.raise_for_status()
            if label == "JSON":
                points = len(response.json()["points"]) if "points" in response.json() else None
            else:
                points = pa.ipc.open_stream(body).read_all().num_rows
            times.sort()
            p95 = percentile(times, 0.95)
            rows.append(f"| {label} | {points if points is not None else '?':,} | {len(body) / 2**20:.2f} "
                        f"| {first_ms:.0f} | {statistics.median(times):.0f} | {p95:.0f} | {min(times):.0f} |")
            print(f"    {rows[-1]}", file=sys.stderr, flush=True)
    lines = [
        f"bundle of {args.endpoint_n:,} items, space `text` ({args.dim}-d), GET {url}; "
        f"{args.requests} sequential requests per format after one first request, one keep-alive httpx client",
        "",
        "| format | points | response MiB | first request ms | p50 ms | p95 ms | min ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("projections", "neighbours", "endpoint"), default=None,
                        help="run one part (default: all three)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated n for projections")
    parser.add_argument("--methods", default="pca,umap,tsne", help="comma-separated projection methods")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=50, help="mixture components of the synthetic data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-min", type=float, default=12, help="hard limit per measured run (child killed)")
    parser.add_argument("--budget-min", type=float, default=30,
                        help="runs extrapolated past this are reported as skipped")
    parser.add_argument("--neighbours-n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=20, help="neighbours per item")
    parser.add_argument("--neighbour-queries", type=int, default=0,
                        help="0: compute_neighbourhoods over every row; M: time the search of M rows and extrapolate")
    parser.add_argument("--endpoint-n", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per format")
    args = parser.parse_args(argv)

    print(f"`{shlex.join(['python', 'bench/maps.py', *(argv if argv is not None else sys.argv[1:])])}`\n")
    print(machine() + "\n")
    parts = [args.only] if args.only else ["projections", "neighbours", "endpoint"]
    bench = {"projections": bench_projections, "neighbours": bench_neighbours, "endpoint": bench_endpoint}
    for part in parts:
        with tempfile.TemporaryDirectory(prefix="vitrina-bench-maps-") as workdir:
            print(bench[part](args, Path(workdir)), flush=True)


if __name__ == "__main__":
    main()
