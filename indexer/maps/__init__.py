"""Per-space maps precomputed at build time: neighbourhoods of every item, and the label
outliers curators review, both derived from them.

    table = compute_neighbourhoods(index, vectors, ids, k=20)
    write_neighbours(neighbours_table(table), paths / "neighbours.parquet")
    outliers = find_label_outliers(table.rows, labels, table.ids, space="image", attribute="categoria")
    write_outliers(outliers_table(outliers), reports / "outliers.parquet")
    umap = project(vectors, "umap", seed=0)  # 2-D maps; see projections.py
    write_projections(projections_table(ids, {"umap": umap}), paths / "projections.parquet")
"""
from vitrina.indexer.maps.neighbourhoods import (
    NEIGHBOURS_SCHEMA,
    InvalidFieldError,
    NeighbourTable,
    UnknownItemError,
    compute_neighbourhoods,
    neighbours_table,
    read_neighbours,
    write_neighbours,
)
from vitrina.indexer.maps.outliers import (
    OUTLIERS_SCHEMA,
    Outlier,
    find_label_outliers,
    outliers_table,
    read_outliers,
    write_outliers,
)
from vitrina.indexer.maps.projections import (
    METHODS,
    FittedReducer,
    Projection,
    align_to_parent,
    load_reducer,
    place_new,
    placement_drift,
    project,
    projections_schema,
    projections_table,
    read_projections,
    realigned,
    save_reducer,
    trustworthiness_of,
    write_projections,
)

__all__ = [
    "METHODS",
    "NEIGHBOURS_SCHEMA",
    "OUTLIERS_SCHEMA",
    "FittedReducer",
    "InvalidFieldError",
    "NeighbourTable",
    "Outlier",
    "Projection",
    "UnknownItemError",
    "align_to_parent",
    "compute_neighbourhoods",
    "find_label_outliers",
    "load_reducer",
    "neighbours_table",
    "outliers_table",
    "place_new",
    "placement_drift",
    "project",
    "projections_schema",
    "projections_table",
    "read_neighbours",
    "read_outliers",
    "read_projections",
    "realigned",
    "save_reducer",
    "trustworthiness_of",
    "write_neighbours",
    "write_outliers",
    "write_projections",
]

# Clusters of a space (clusters.parquet) and every item's cluster label:
#     clustering = cluster_space(vectors, "hdbscan", texts=texts)
#     write_clusters(clusters_table(clustering, ids), paths / "clusters.parquet")
from vitrina.indexer.maps.clusters import (
    CLUSTER_LABELS_SCHEMA,
    CLUSTER_METHODS,
    CLUSTERS_SCHEMA,
    ClusterInfo,
    ClusterLabels,
    Clustering,
    ClusterSummary,
    cluster_space,
    clusters_table,
    ctfidf_keywords,
    knee_eps,
    labels_table,
    members_by_centrality,
    read_cluster_labels,
    read_clusters,
    write_cluster_labels,
    write_clusters,
)

__all__ += [
    "CLUSTERS_SCHEMA",
    "CLUSTER_LABELS_SCHEMA",
    "CLUSTER_METHODS",
    "ClusterInfo",
    "ClusterLabels",
    "ClusterSummary",
    "Clustering",
    "cluster_space",
    "clusters_table",
    "ctfidf_keywords",
    "knee_eps",
    "labels_table",
    "members_by_centrality",
    "read_cluster_labels",
    "read_clusters",
    "write_cluster_labels",
    "write_clusters",
]

# One space's map as the build writes it (projections + cluster labels + clusters + reducers):
#     report = build_space_maps(vectors, ids, texts, paths, "image", ("umap", "pca"), ("hdbscan", "kmeans"))
from vitrina.indexer.maps.space_maps import (
    DEFAULT_CLUSTERINGS,
    DEFAULT_PROJECTIONS,
    LABEL_PREFIX,
    SpaceProjections,
    build_space_maps,
    check_map_methods,
    check_map_update,
    maps_table,
    read_cluster_columns,
    read_space_projections,
)

__all__ += [
    "DEFAULT_CLUSTERINGS",
    "DEFAULT_PROJECTIONS",
    "LABEL_PREFIX",
    "SpaceProjections",
    "build_space_maps",
    "check_map_methods",
    "check_map_update",
    "maps_table",
    "read_cluster_columns",
    "read_space_projections",
]

# A re-index placed into its parent's map rather than refitted (build --map-update place).
from vitrina.indexer.maps.placement import MAP_UPDATES, ParentMap, place_into_parent, placement_report

__all__ += ["MAP_UPDATES", "ParentMap", "place_into_parent", "placement_report"]
