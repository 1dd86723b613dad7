"""clusters.parquet (a space's clusters by method) and the cluster labels beside its projections."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from vitrina.indexer.maps.cluster_methods import NOISE
from vitrina.indexer.maps.clusters import Clustering
from vitrina.schemas.bundle_files import CLUSTER_LABELS_SCHEMA, CLUSTERS_SCHEMA, read_checked, write_checked
from vitrina.schemas.errors import InvalidFieldError

__all__ = [
    "CLUSTERS_SCHEMA",
    "CLUSTER_LABELS_SCHEMA",
    "ClusterLabels",
    "ClusterSummary",
    "clusters_table",
    "labels_table",
    "read_cluster_labels",
    "read_clusters",
    "write_cluster_labels",
    "write_clusters",
]


@dataclass(frozen=True)
class ClusterSummary:
    """One row of a clusters.parquet, as read back."""

    method: str
    cluster: int
    size: int
    name: str
    keywords: tuple[str, ...]
    representative_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ClusterLabels:
    """One method's labels from a cluster labels file: labels[i] is the cluster of ids[i]."""

    method: str
    ids: list[str]
    labels: np.ndarray


# --- Parquet -------------------------------------------------------------------------------


def clusters_table(clustering: Clustering, ids: Sequence[str]) -> pa.Table:
    """`clustering`'s clusters as a CLUSTERS_SCHEMA table; ids[i] names row i of the vectors."""
    ids = _check_ids(ids, clustering)
    rows = clustering.clusters
    return pa.table(
        {
            "method": [clustering.method] * len(rows),
            "cluster": [c.cluster for c in rows],
            "size": [c.size for c in rows],
            "name": [c.name for c in rows],
            "keywords": [list(c.keywords) for c in rows],
            "representative_ids": [[ids[r] for r in c.representatives] for c in rows],
        },
        schema=CLUSTERS_SCHEMA,
    )


def labels_table(clustering: Clustering, ids: Sequence[str]) -> pa.Table:
    """Every item's cluster (-1 noise) as a CLUSTER_LABELS_SCHEMA table, in row order."""
    ids = _check_ids(ids, clustering)
    return pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array([clustering.method] * len(ids), pa.string()),
            pa.array(clustering.labels, pa.int32()),
        ],
        schema=CLUSTER_LABELS_SCHEMA,
    )


def _check_ids(ids: Sequence[str], clustering: Clustering) -> list[str]:
    ids = list(ids)
    n = len(clustering.labels)
    if len(ids) != n:
        raise InvalidFieldError("ids", f"has {len(ids)} entries but the clustering has {n} rows; pass one id per row")
    if len(set(ids)) != n:
        raise InvalidFieldError("ids", "has duplicates; every item needs its own id")
    return ids


def write_clusters(table: pa.Table, path: str | Path) -> None:
    write_checked(table, CLUSTERS_SCHEMA, path)


def read_clusters(path: str | Path) -> list[ClusterSummary]:
    """Read a clusters.parquet; SchemaMismatchError / InvalidFieldError name the file and field."""
    path = Path(path)
    table = read_checked(path, CLUSTERS_SCHEMA)
    summaries = []
    for row in table.to_pylist():
        for name in ("keywords", "representative_ids"):
            if any(v is None for v in row[name]):
                raise InvalidFieldError(name, f"has null entries in cluster {row['cluster']}", path)
        summaries.append(
            ClusterSummary(
                row["method"], row["cluster"], row["size"], row["name"],
                tuple(row["keywords"]), tuple(row["representative_ids"]),
            )
        )
    for s in summaries:
        if s.cluster < NOISE:
            raise InvalidFieldError("cluster", f"must be >= -1 (noise), got {s.cluster}", path)
        if s.size < 1:
            raise InvalidFieldError("size", f"must be >= 1, got {s.size} for cluster {s.cluster}", path)
    if len({(s.method, s.cluster) for s in summaries}) != len(summaries):
        raise InvalidFieldError("cluster", "repeats within a method; (method, cluster) must be unique", path)
    return summaries


def write_cluster_labels(table: pa.Table, path: str | Path) -> None:
    write_checked(table, CLUSTER_LABELS_SCHEMA, path)


def read_cluster_labels(path: str | Path) -> dict[str, ClusterLabels]:
    """Read a cluster labels file, one ClusterLabels per method, rows in file order."""
    path = Path(path)
    table = read_checked(path, CLUSTER_LABELS_SCHEMA)
    methods = np.asarray(table.column("method").to_pylist(), dtype=object)
    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    labels = table.column("cluster").to_numpy().astype(np.int32, copy=False)
    if labels.size and labels.min() < NOISE:
        raise InvalidFieldError("cluster", f"must be >= -1 (noise), got {int(labels.min())}", path)
    out = {}
    for method in dict.fromkeys(methods.tolist()):
        rows = methods == method
        method_ids = ids[rows].tolist()
        if len(set(method_ids)) != len(method_ids):
            raise InvalidFieldError("id", f"repeats within method {method!r}; each item has one label", path)
        out[method] = ClusterLabels(method, method_ids, labels[rows])
    return out
