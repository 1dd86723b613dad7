"""Per-space maps precomputed at build time: neighbourhoods of every item, the label outliers
curators review, 2-D projections and clusters.

    table = compute_neighbourhoods(index, vectors, ids, k=20)
    write_neighbours(neighbours_table(table), paths / "neighbours.parquet")
    outliers = find_label_outliers(table.rows, labels, table.ids, space="image", attribute="categoria")
    write_outliers(outliers_table(outliers), reports / "outliers.parquet")
    umap = project(vectors, "umap", seed=0)  # 2-D maps; see projections.py
    write_projections(projections_table(ids, {"umap": umap}), paths / "projections.parquet")
    # clusters of a space (clusters.parquet) and every item's cluster label
    clustering = cluster_space(vectors, "hdbscan", texts=texts)
    write_clusters(clusters_table(clustering, ids), paths / "clusters.parquet")
    # one space's map as the build writes it (projections + cluster labels + clusters + reducers)
    report = build_space_maps(vectors, ids, texts, paths, "image", ("umap", "pca"), ("hdbscan", "kmeans"))

A re-index may place new items into its parent's map instead of refitting (placement.py,
build --map-update place). The package exports what each module lists in its __all__.
"""
from vitrina.indexer.maps import (
    cluster_files,
    cluster_methods,
    cluster_naming,
    cluster_order,
    clusters,
    map_alignment,
    neighbourhoods,
    outliers,
    placement,
    projection_files,
    projections,
    space_maps,
)
from vitrina.indexer.maps.cluster_files import *  # noqa: F401,F403
from vitrina.indexer.maps.cluster_methods import *  # noqa: F401,F403
from vitrina.indexer.maps.cluster_naming import *  # noqa: F401,F403
from vitrina.indexer.maps.cluster_order import *  # noqa: F401,F403
from vitrina.indexer.maps.clusters import *  # noqa: F401,F403
from vitrina.indexer.maps.neighbourhoods import *  # noqa: F401,F403
from vitrina.indexer.maps.outliers import *  # noqa: F401,F403
from vitrina.indexer.maps.map_alignment import *  # noqa: F401,F403
from vitrina.indexer.maps.placement import *  # noqa: F401,F403
from vitrina.indexer.maps.projection_files import *  # noqa: F401,F403
from vitrina.indexer.maps.projections import *  # noqa: F401,F403
from vitrina.indexer.maps.space_maps import *  # noqa: F401,F403

__all__ = sorted({name for module in (neighbourhoods, outliers, projections, map_alignment, projection_files, clusters,
                                      cluster_methods, cluster_naming, cluster_files, cluster_order, space_maps, placement)
                   for name in module.__all__})
