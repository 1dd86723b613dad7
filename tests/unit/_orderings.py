"""Every stored or served ranking of one space, as JSON: run in a subprocess per BLAS setting
by test_orderings_across_processors.py, since OpenBLAS reads its kernel and thread count
once, when it loads.

    python -m tests.unit._orderings OUT_DIR VECTORS.npy...
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def orderings(vectors: np.ndarray, out: Path) -> dict:
    from vitrina.schemas.bundle_layout import VersionPaths
    from vitrina.indexer.index import build_index, exact_search
    from vitrina.indexer.maps import build_space_maps, compute_neighbourhoods, read_clusters, read_space_projections

    ids = [f"item-{i:03d}" for i in range(len(vectors))]
    paths = VersionPaths(out)
    # The build's own path: PCA map, clusterings on the PCA-reduced vectors, member ranks.
    # Agglomerative is left out for time: it ranks members with the same code as the others.
    build_space_maps(vectors, ids, [None] * len(ids), paths, "space", ("pca",), ("hdbscan", "dbscan", "kmeans"))
    maps = read_space_projections(paths.projections("space"))
    result: dict = {
        "labels": {m: v.tolist() for m, v in maps.labels.items()},
        "member_ranks": {m: v.tolist() for m, v in maps.member_ranks.items()},
        "representatives": sorted([c.method, c.cluster, list(c.representative_ids)]
                                  for c in read_clusters(paths.clusters("space"))),
    }
    for spec in ("Flat", "HNSW32"):
        index, _ = build_index(vectors, spec=spec, target_recall=0.9)
        result[f"neighbours {spec}"] = compute_neighbourhoods(index, vectors, ids, k=10, progress=False).rows.tolist()
        allowed = np.arange(len(vectors)) % 3 != 0
        result[f"filtered {spec}"] = index.search(vectors[:20], 10, allowed=allowed)[1].tolist()
    result["exact"] = exact_search(vectors, vectors[:20], 10)[1].tolist()
    return result


if __name__ == "__main__":
    out = Path(sys.argv[1])
    print(json.dumps({Path(p).stem: orderings(np.load(p), out / Path(p).stem) for p in sys.argv[2:]}))
