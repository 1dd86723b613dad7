"""One space's map as the build writes it and the API reads it.

    report = build_space_maps(vectors, ids, texts, paths, "image", ("umap", "pca"), ("hdbscan", "kmeans"),
                              parent=(parent_version, parent_paths))

writes, for the space:
- `projections.parquet`: id, <method>_x/_y per projection (see projections.py), and per
  clustering a `cluster_<method>` int32 column (-1: noise) and a `member_rank_<method>` int32
  column (the item's place in its cluster, 0 most central: the order the API pages through),
  rows in embeddings.parquet order;
- `clusters.parquet`: every clustering's clusters (names from the items' texts, c-TF-IDF);
- `reducers/<method>.pkl`: the fitted UMAP / PCA model, to place new items later (place_new).

Every map is fitted with seed 0. When the parent version has a map of the same space and
method, the new one is aligned onto it (align_to_parent, on the ids both share) so a re-index
does not turn or flip the map; its stored reducer is moved with it, and the report says how far
the parent's reducer would have placed the new and changed items from where the refit put them
(`placement.mean_drift`). With update="place" nothing is refitted where the parent has a map and
reducer: unchanged items keep their coordinates and the rest are placed (placement.py); t-SNE
and PaCMAP, which cannot place, are refitted. The returned report gives,
per method, trustworthiness, the alignment and its mean displacement, cluster counts, noise
fractions and seconds; methods the space is too small for (or whose data they cannot use) are
skipped with the reason, so a tiny space does not fail the build.
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from vitrina.indexer.maps.cluster_order import check_member_ranks
from vitrina.indexer.maps.cluster_files import clusters_table, write_clusters
from vitrina.indexer.maps.clusters import CLUSTER_METHODS, Clustering, cluster_space
from vitrina.indexer.maps.map_alignment import align_to_parent, realigned, save_reducer
from vitrina.indexer.maps.placement import MAP_UPDATES, ParentMap, place_into_parent, placement_report
from vitrina.indexer.maps.projection_files import projections_table, read_projections, write_projections
from vitrina.indexer.maps.projections import METHODS, TRANSFORMABLE, Projection, project, trustworthiness_of
from vitrina.schemas import SchemaMismatchError
from vitrina.schemas.bundle_files import reject_nulls
from vitrina.schemas.errors import FieldError, InvalidFieldError

if TYPE_CHECKING:
    from vitrina.schemas.bundle_layout import VersionPaths

__all__ = [
    "DEFAULT_CLUSTERINGS",
    "DEFAULT_PROJECTIONS",
    "LABEL_PREFIX",
    "RANK_PREFIX",
    "SpaceProjections",
    "build_space_maps",
    "check_map_methods",
    "check_map_update",
    "maps_table",
    "read_cluster_columns",
    "read_space_projections",
]

log = logging.getLogger("vitrina.indexer")

# t-SNE and PaCMAP are opt-in: at 100k+ items each takes many minutes on a build machine.
DEFAULT_PROJECTIONS: tuple[str, ...] = ("umap", "pca")
DEFAULT_CLUSTERINGS: tuple[str, ...] = ("hdbscan", "kmeans")
LABEL_PREFIX = "cluster_"
RANK_PREFIX = "member_rank_"
SEED = 0
# Clusterings run on the vectors' first principal components: on 8k openclipart images at
# 1280-d, HDBSCAN took 214 s and the silhouette search of KMeans 176 s on 2 cores; on 32
# components (re-normalised) 4 s and 9 s. Density- and centroid-based clusterers also lose
# contrast in high dimensions, so the reduction costs little agreement with the labels.
CLUSTER_DIM = 32
# UMAP's usual neighbourhood, capped below the item count for small spaces.
UMAP_NEIGHBOURS = 15
TRUST_NEIGHBOURS = 10

# Fewest items each method can work on (with the parameters used here).
_MIN_ITEMS = {
    "umap": 3,
    "pca": 3,
    "tsne": 3,
    "pacmap": 62,  # PaCMAP needs more than n_neighbors (10) + 51 items
    "hdbscan": 5,  # min_cluster_size 5
    "dbscan": 6,  # more than min_samples (5)
    "kmeans": 3,
    "agglomerative": 3,
}


def check_map_methods(projections: Sequence[str], clusterings: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The methods as tuples; FieldError naming the field (projections / clusterings) otherwise.

    Cluster labels are stored beside the coordinates, so clusterings need a projection.
    """
    checked = []
    for name, values, known in (("projections", projections, METHODS), ("clusterings", clusterings, CLUSTER_METHODS)):
        if isinstance(values, str):
            values = (values,)
        values = tuple(values)
        for value in values:
            if value not in known:
                raise FieldError(name, f"unknown method {value!r}; choose from {', '.join(known)}")
        if len(set(values)) != len(values):
            raise FieldError(name, f"each method may appear once, got {list(values)}")
        checked.append(values)
    if checked[1] and not checked[0]:
        raise FieldError("clusterings", "need at least one projection (labels are stored beside the map's coordinates)")
    return checked[0], checked[1]


def check_map_update(update: str) -> None:
    if update not in MAP_UPDATES:
        raise FieldError("map_update", f"unknown mode {update!r}; choose from {', '.join(MAP_UPDATES)}")


class SpaceProjections(NamedTuple):
    """A space's projections.parquet: ids (row order), {method: float32 [n, 2]}, {clustering: int32 [n]},
    and {clustering: int32 [n]} member ranks (absent for versions built before they were stored)."""

    ids: list[str]
    coords: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    member_ranks: dict[str, np.ndarray]


def maps_table(
    ids: Sequence[str],
    coords: dict[str, Projection | np.ndarray],
    labels: dict[str, np.ndarray],
    member_ranks: dict[str, np.ndarray] | None = None,
) -> pa.Table:
    """projections_table plus a `cluster_<method>` int32 column per clustering and, for those
    in member_ranks, a `member_rank_<method>` int32 column (see Clustering.member_rank)."""
    table = projections_table(ids, coords)
    member_ranks = member_ranks or {}
    for method in member_ranks:
        if method not in labels:
            raise InvalidFieldError("member_ranks", f"holds {method!r}, which has no labels")
    for method, values in labels.items():
        if method not in CLUSTER_METHODS:
            raise InvalidFieldError("labels", f"holds {method!r}; expected any of {', '.join(CLUSTER_METHODS)}")
        values = np.asarray(values)
        if values.shape != (table.num_rows,):
            raise InvalidFieldError(method, f"has shape {values.shape}; pass one label per id ({table.num_rows})")
        table = table.append_column(pa.field(LABEL_PREFIX + method, pa.int32(), nullable=False), pa.array(values, pa.int32()))
        if method in member_ranks:
            problem = check_member_ranks(values, member_ranks[method])
            if problem:
                raise InvalidFieldError(RANK_PREFIX + method, problem)
            table = table.append_column(pa.field(RANK_PREFIX + method, pa.int32(), nullable=False),
                                        pa.array(np.asarray(member_ranks[method]), pa.int32()))
    return table


def read_cluster_columns(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({clustering: int32 labels}, {clustering: int32 member ranks}) of the `cluster_<method>`
    and `member_rank_<method>` columns of a projections.parquet, in file order."""
    path = Path(path)
    schema = pq.read_schema(path)
    columns = {prefix: [name for name in schema.names if name.startswith(prefix) and name[len(prefix):] in CLUSTER_METHODS]
               for prefix in (LABEL_PREFIX, RANK_PREFIX)}
    every = columns[LABEL_PREFIX] + columns[RANK_PREFIX]
    for name in every:
        if not pa.types.is_integer(schema.field(name).type):
            raise SchemaMismatchError(path, name, f"has type {schema.field(name).type}, expected int32")
    if not every:
        return {}, {}
    table = pq.read_table(path, columns=every)
    reject_nulls(table, path)
    labels, ranks = ({name[len(prefix):]: table.column(name).to_numpy().astype(np.int32) for name in columns[prefix]}
                     for prefix in (LABEL_PREFIX, RANK_PREFIX))
    for name, values in labels.items():
        if values.size and values.min() < -1:
            raise InvalidFieldError(LABEL_PREFIX + name, f"must be >= -1 (noise), got {int(values.min())}", path)
    for name, values in ranks.items():
        problem = "has no cluster_ column beside it" if name not in labels else check_member_ranks(labels[name], values)
        if problem:
            raise InvalidFieldError(RANK_PREFIX + name, problem, path)
    return labels, ranks


def read_space_projections(path: str | Path) -> SpaceProjections:
    """Coordinates, cluster labels and member ranks of a projections.parquet written by build_space_maps."""
    ids, coords = read_projections(path)
    labels, ranks = read_cluster_columns(path)
    return SpaceProjections(ids, coords, labels, ranks)


def _trust_neighbours(n: int) -> int:
    # trustworthiness needs n_neighbors < n / 2 (of the items scored, at most 2000 of them).
    return min(TRUST_NEIGHBOURS, math.ceil(min(n, 2000) / 2) - 1)


def _reduced_for_clustering(vectors: np.ndarray) -> np.ndarray:
    """The first CLUSTER_DIM principal components, L2-normalised; the vectors themselves when small."""
    if vectors.shape[1] <= CLUSTER_DIM or len(vectors) <= CLUSTER_DIM:
        return vectors
    from sklearn.decomposition import PCA

    reduced = PCA(CLUSTER_DIM, random_state=SEED).fit_transform(vectors).astype(np.float32)
    return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)


def _placed(parent: ParentMap | None, method: str, vectors: np.ndarray, ids: list[str], entry: dict) -> Projection | None:
    """The parent's map carried over with new and changed items placed; None (and the reason in
    entry["placement"]) when there is nothing to place into, so the caller refits."""
    if parent is None:
        entry["placement"] = {"skipped": "no parent version with a map of this space; refitted"}
        return None
    try:
        coords, reducer, placed = place_into_parent(parent, method, vectors, ids)
    except (FieldError, FileNotFoundError) as exc:
        entry["placement"] = {"parent": parent.version, "skipped": f"{exc}; refitted"}
        return None
    # Params of the parent's fit: they are what made the map.
    params = {**parent.params(method), "placed_into": parent.version}
    entry.update(params=params, alignment=None,
                 placement={"parent": parent.version, "placed_items": placed, "mean_drift": None, "refitted": False})
    return Projection(method, coords, MappingProxyType(params), reducer)


def _refitted(parent: ParentMap | None, method: str, vectors: np.ndarray, ids: list[str], entry: dict, space: str,
              report: dict) -> Projection | None:
    """A fresh fit aligned onto the parent's map, with how far placing would have put the new
    items from it; None when the method cannot map this data (the reason goes in the report)."""
    n = len(ids)
    params = {"n_neighbors": min(UMAP_NEIGHBOURS, n - 1)} if method == "umap" else {}
    try:
        fitted = project(vectors, method, seed=SEED, **params)
    except InvalidFieldError as exc:  # data the method cannot map (e.g. every vector the same)
        report["skipped"][method] = str(exc)
        log.warning("projection skipped", extra={"space": space, "method": method, "reason": str(exc)})
        return None
    entry["params"] = dict(fitted.params)
    entry["alignment"] = None
    if parent is None or method not in parent.coords:
        return fitted
    try:
        coords, moved = align_to_parent(fitted.coords, ids, parent.coords[method], parent.ids)
    except InvalidFieldError as exc:  # too few shared items, or a degenerate map
        entry["alignment"] = {"parent": parent.version, "skipped": str(exc)}
    else:
        fitted = realigned(fitted, coords)
        shared = len(set(ids) & set(parent.ids))
        entry["alignment"] = {"parent": parent.version, "shared_items": shared, "mean_displacement": moved}
    if method in TRANSFORMABLE:
        entry["placement"] = {**placement_report(parent, method, vectors, ids, fitted.coords), "refitted": True}
    return fitted


def build_space_maps(
    vectors: np.ndarray,
    ids: Sequence[str],
    texts: Sequence[str | None],
    paths: VersionPaths,
    space: str,
    projections: Sequence[str] = DEFAULT_PROJECTIONS,
    clusterings: Sequence[str] = DEFAULT_CLUSTERINGS,
    parent: tuple[str, VersionPaths] | None = None,
    update: str = "refit",
    progress: bool = False,
) -> dict[str, Any]:
    """Fit, align and write one space's maps into `paths`; return the report (see the module doc).

    vectors: the space's L2-normalised rows, ids[i] and texts[i] (title or text, for cluster
    names) describing row i. parent: (version, its paths), the version to align onto.
    progress: a bar that advances per projection and clustering method (UMAP and the k-means
    search take minutes on large spaces).
    """
    projections, clusterings = check_map_methods(projections, clusterings)
    check_map_update(update)
    ids = list(ids)
    report: dict[str, Any] = {"projections": {}, "clusterings": {}, "skipped": {}}
    if not projections:
        return report
    started = time.perf_counter()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    parent_map = ParentMap.read(parent[0], parent[1], space) if parent is not None else None

    bar = tqdm(total=len(projections) + len(clusterings), desc=f"maps {space}", unit="method", disable=not progress)
    maps = _fit_projections(vectors, ids, paths, space, projections, parent_map, update, report, bar)
    if maps:  # labels live beside the coordinates
        found = _fit_clusterings(vectors, texts, space, clusterings, report, bar)
        write_projections(maps_table(ids, maps, {m: c.labels for m, c in found.items()},
                                     {m: c.member_rank for m, c in found.items()}), paths.projections(space))
        if found:
            write_clusters(pa.concat_tables([clusters_table(c, ids) for c in found.values()]), paths.clusters(space))
    else:
        for method in clusterings:
            report["skipped"].setdefault(method, "no projection of this space was made; labels are stored beside one")
    bar.close()
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _ticking(methods: Sequence[str], bar: tqdm):
    """The methods in order, the bar naming the one running and advancing as each ends (however it ends)."""
    for method in methods:
        bar.set_postfix_str(method)
        yield method
        bar.update(1)


def _fit_projections(vectors: np.ndarray, ids: list[str], paths: VersionPaths, space: str, projections: Sequence[str],
                     parent_map: ParentMap | None, update: str, report: dict[str, Any], bar: tqdm) -> dict[str, Projection]:
    """Each method's map, placed into or aligned onto the parent's; its reducer saved when it has one."""
    n = len(ids)
    maps: dict[str, Projection] = {}
    for method in _ticking(projections, bar):
        if n < _MIN_ITEMS[method]:
            report["skipped"][method] = f"{method} needs at least {_MIN_ITEMS[method]} items, the space has {n}"
            continue
        t0 = time.perf_counter()
        entry: dict[str, Any] = {}
        fitted = _placed(parent_map, method, vectors, ids, entry) if update == "place" else None
        if fitted is None:
            fitted = _refitted(parent_map, method, vectors, ids, entry, space, report)
            if fitted is None:
                continue
        k = _trust_neighbours(n)
        entry["trustworthiness"] = trustworthiness_of(vectors, fitted.coords, n_neighbors=k, seed=SEED) if k >= 1 else None
        entry["trustworthiness_k"] = k if k >= 1 else None
        if fitted.reducer is not None:
            save_reducer(fitted, paths.reducer(space, method))
        maps[method] = fitted
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        report["projections"][method] = entry
    return maps


def _fit_clusterings(vectors: np.ndarray, texts: Sequence[str | None], space: str, clusterings: Sequence[str],
                     report: dict[str, Any], bar: tqdm) -> dict[str, Clustering]:
    """Each clustering method's labels, fitted on the vectors reduced for clustering."""
    from sklearn.exceptions import ConvergenceWarning

    n = len(vectors)
    found: dict[str, Clustering] = {}
    if not clusterings:
        return found
    cluster_vectors = _reduced_for_clustering(vectors)
    report["clustered_on"] = f"pca-{cluster_vectors.shape[1]}" if cluster_vectors is not vectors else "vectors"
    for method in _ticking(clusterings, bar):
        if n < _MIN_ITEMS[method]:
            report["skipped"][method] = f"{method} needs at least {_MIN_ITEMS[method]} items, the space has {n}"
            continue
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # k-means tries every k up to 40 when choosing one; on spaces with many exact
                # duplicates the larger k find fewer distinct clusters, and scikit-learn says
                # so once per k. The silhouette already rules those k out.
                warnings.filterwarnings("ignore", message="Number of distinct clusters", category=ConvergenceWarning)
                clustering = cluster_space(cluster_vectors, method, seed=SEED, texts=texts)
        except InvalidFieldError as exc:
            report["skipped"][method] = str(exc)
            log.warning("clustering skipped", extra={"space": space, "method": method, "reason": str(exc)})
            continue
        found[method] = clustering
        report["clusterings"][method] = {
            "clusters": clustering.n_clusters,
            "noise_fraction": clustering.noise_fraction,
            "params": dict(clustering.params),
            "seconds": round(time.perf_counter() - t0, 3),
        }
    return found
