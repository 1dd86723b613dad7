"""Embedding throughput of the build engines, local against Ray, on real openclipart items.

    python bench/engines.py --limit 1000 --runs local ray:1x2 ray:2x1

Each run is a whole `index build` of the same subset (image and text spaces, built-in encoders)
into its own folder, with maps and neighbours off so the embed stages dominate. `ray:AxC` is an
actor pool of A actors with C CPUs (torch threads) each, on a Ray cluster started for the
build. The table gives each engine's embed-stage seconds and items/s, the whole build's wall
time, and whether its vectors are bit-identical to the first run's.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from _machine import machine

from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

SPACES = ("image=builtin:efficientnet-lite0", "text=builtin:minilm-l6")


def _options(run: str, limit: int) -> BuildOptions:
    options = BuildOptions(limit=limit, projections=(), clusterings=(), neighbours_k=0, attribution_steps=0,
                           progress=False, parent="none")
    if run != "local":
        actors, _, cpus = run.removeprefix("ray:").partition("x")
        options.engine, options.ray_actors, options.ray_actor_cpus = "ray", int(actors), int(cpus) if cpus else None
    return options


def _build(run: str, catalogue: str, limit: int, out: Path) -> dict:
    start = time.perf_counter()
    result = build_bundle(catalogue, out, "bench", [SpaceRequest.parse(s) for s in SPACES], _options(run, limit))
    wall = time.perf_counter() - start
    timings = result.report["timings_s"]
    row = {"run": run, "wall_s": wall, "paths": result.paths}
    for space, report in result.report["spaces"].items():
        seconds = timings[f"embed:{space}"]
        row[space] = (report["rows"], seconds)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000, help="openclipart items (a deterministic spread)")
    parser.add_argument("--openclipart", default="/usr/share/openclipart")
    parser.add_argument("--runs", nargs="+", default=["local", "ray:1x2", "ray:2x1"],
                        help="local, or ray:AxC (A actors of C CPUs)")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, run in enumerate(args.runs):
            rows.append(_build(run, f"openclipart:{args.openclipart}", args.limit, Path(tmp) / str(n)))
        first = rows[0]["paths"]
        for row in rows:
            row["identical"] = all(
                pq.read_table(row["paths"].embeddings(s)).equals(pq.read_table(first.embeddings(s)))
                for s in ("image", "text"))

    print(f"# {machine()}; {args.limit} openclipart items")
    print("| run | image embed s | images/s | text embed s | texts/s | build wall s | same vectors as first |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        (images, image_s), (texts, text_s) = row["image"], row["text"]
        print(f"| {row['run']} | {image_s:.1f} | {images / image_s:.1f} | {text_s:.1f} | {texts / text_s:.1f} "
              f"| {row['wall_s']:.1f} | {'yes' if row['identical'] else 'no'} |")


if __name__ == "__main__":
    main()
