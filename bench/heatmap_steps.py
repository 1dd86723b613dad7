"""How many Integrated Gradients steps an image heatmap needs: time, completeness, and rank agreement.

    python bench/heatmap_steps.py --bundles /var/tmp/vb3 --collection oc --pairs 6 --steps 16,20,24,50

For --pairs items of the `image` space (a seeded spread), each picture is explained against its
nearest image neighbour at every --steps count. Prints per count: seconds per heatmap (p50),
|completeness delta| relative to the score change (median and max; the change floored at 0.1),
and the Spearman correlation of the grid's cells with the largest count's grid (median and min).
This is what chose the API's HEATMAP_STEPS (docs/benchmarks.md 12.5).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from vitrina.indexer.bundle.reader import Bundle
from vitrina.search_api.explanations import HEATMAP_GRID
from vitrina.training.explain.image_heatmap import explain_image
from vitrina.training.images import load_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=Path, default=Path("bundles"))
    parser.add_argument("--collection", default="openclipart")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--steps", default="16,20,24,50")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    counts = sorted(int(s) for s in args.steps.split(","))

    bundle = Bundle.open(args.bundles, args.collection)
    space = bundle.spaces["image"]
    encoder = space.encoder("image")
    rows = np.random.default_rng(args.seed).choice(len(space.ids), args.pairs, replace=False)
    found: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
    for row in rows:
        _, hits = space.index.search(np.asarray(space.vectors[row : row + 1]), 2)
        target = np.asarray(space.vectors[hits[0, 1]])
        image = load_image(bundle.items.get(space.ids[row]).image_ref)
        grids = {}
        for n in reversed(counts):  # the reference (largest count) first
            start = time.perf_counter()
            heatmap = explain_image(encoder, image, target, n_steps=n, grid=HEATMAP_GRID)
            seconds = time.perf_counter() - start
            grids[n] = heatmap.grid.ravel()
            change = abs(heatmap.score - heatmap.baseline_score)
            rho = spearmanr(grids[n], grids[counts[-1]])[0]
            found[n].append((seconds, abs(heatmap.delta) / max(change, 0.1), rho))
    print(f"{args.pairs} pictures of {args.collection}, grid {HEATMAP_GRID}x{HEATMAP_GRID}\n")
    print(f"| steps | s per heatmap p50 | rel. delta median | max | Spearman vs {counts[-1]} median | min |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in counts:
        a = np.asarray(found[n])
        print(f"| {n} | {np.median(a[:, 0]):.2f} | {np.median(a[:, 1]):.3f} | {a[:, 1].max():.3f} | "
              f"{np.median(a[:, 2]):.3f} | {a[:, 2].min():.3f} |")


if __name__ == "__main__":
    main()
