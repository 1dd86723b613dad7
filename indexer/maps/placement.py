"""Maps of a re-index placed into its parent's map instead of refitted.

A refit moves every point a little (the Procrustes alignment only removes turns and flips);
placing keeps each unchanged item exactly where curators saw it and puts added or re-encoded
items where the parent's stored reducer (reducers/<method>.pkl) sends them. Both paths report
how far placement lands from a refit, so an operator can tell when placing has drifted enough
that the next re-index should refit:

    parent = ParentMap.read(version, paths, space)        # None: no usable map to place into
    coords, reducer, placed = place_into_parent(parent, "umap", vectors, ids)
    drift = placement_report(parent, "umap", vectors, ids, refit_coords)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from vitrina.schemas.errors import InvalidFieldError
from vitrina.indexer.maps.map_alignment import load_reducer, placement_drift
from vitrina.indexer.maps.projection_files import read_projections
from vitrina.indexer.maps.projections import FittedReducer
from vitrina.schemas.errors import FieldError

if TYPE_CHECKING:
    from vitrina.schemas.bundle_layout import VersionPaths

__all__ = ["MAP_UPDATES", "MAX_PLACED_SHARE", "ParentMap", "placement_report", "place_into_parent"]

log = logging.getLogger("vitrina.indexer")

# refit: fit every method again and align it onto the parent (the default: the map follows the
# data); place: keep the parent's coordinates and place only new or changed items.
MAP_UPDATES = ("refit", "place")
# An item whose vector moved less than this (cosine distance) keeps its parent coordinates:
# re-encoding the same content on another machine differs in the last float bits.
_UNCHANGED_COSINE = 1 - 1e-5
# Placing with the parent's reducer assumes most vectors are the ones it was fitted on; when
# more than this share moved (a retrained encoder of the same dim), the build refits instead.
MAX_PLACED_SHARE = 0.5


@dataclass
class ParentMap:
    """The parent version's map of one space: coordinates per method and the vectors they map."""

    version: str
    paths: VersionPaths
    space: str
    ids: list[str]
    coords: dict[str, np.ndarray]

    @classmethod
    def read(cls, version: str, paths: VersionPaths, space: str) -> ParentMap | None:
        path = paths.projections(space)
        if not path.is_file():
            return None
        try:
            ids, coords = read_projections(path)
        except FieldError as exc:
            log.warning("parent map unreadable; not aligning", extra={"space": space, "parent": version, "error": str(exc)})
            return None
        return cls(version, paths, space, ids, coords)

    @cached_property
    def vectors(self) -> dict[str, np.ndarray]:
        """{id: vector} of the parent's embeddings of this space (what its map was fitted on),
        read once however many methods place or measure drift against it."""
        import pyarrow.parquet as pq

        from vitrina.indexer.bundle.chunks import table_to_vectors

        table = pq.read_table(self.paths.embeddings(self.space))
        dim = table.schema.field("vector").type.list_size
        return dict(zip(table.column("id").to_pylist(), table_to_vectors(table, dim)))

    def params(self, method: str) -> dict[str, Any]:
        """The parameters the parent's map of `method` was made with (its build report), or {}."""
        import json

        try:
            report = json.loads(self.paths.build_report.read_text())
            return dict(report["spaces"][self.space]["maps"]["projections"][method]["params"])
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def reducer(self, method: str) -> FittedReducer:
        path = self.paths.reducer(self.space, method)
        if not path.is_file():
            raise InvalidFieldError("method", f"{method!r} has no stored reducer in version {self.version}")
        return load_reducer(path)


def _rows_to_place(parent: ParentMap, vectors: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Rows that are new to the parent or whose vector changed since (content or encoder)."""
    old = parent.vectors
    on_map = set(parent.ids)
    rows = []
    for row, item_id in enumerate(ids):
        before = old.get(item_id)
        if item_id not in on_map or before is None or before.shape != vectors[row].shape:
            rows.append(row)
        elif float(before @ vectors[row]) < _UNCHANGED_COSINE:
            rows.append(row)
    return np.asarray(rows, dtype=np.int64)


def place_into_parent(
    parent: ParentMap, method: str, vectors: np.ndarray, ids: Sequence[str]
) -> tuple[np.ndarray, FittedReducer, int]:
    """The parent's map of `method` carried over: unchanged items keep their coordinates, the
    rest are placed with the parent's reducer. Returns (coords [n, 2], that reducer, rows placed).

    InvalidFieldError when the parent has no map or reducer of `method`, or one of another dim.
    """
    if method not in parent.coords:
        raise InvalidFieldError("method", f"{method!r} has no map in version {parent.version}")
    reducer = parent.reducer(method)
    if reducer.dim != vectors.shape[1]:
        raise InvalidFieldError(
            "vectors", f"have dim {vectors.shape[1]} but version {parent.version}'s {method} reducer takes {reducer.dim}"
        )
    place = _rows_to_place(parent, vectors, ids)
    if len(place) > MAX_PLACED_SHARE * len(ids):
        raise InvalidFieldError(
            "vectors", f"of {len(place)} of {len(ids)} items are new or changed since version {parent.version}; "
            f"placing is for re-indexes that change at most {MAX_PLACED_SHARE:.0%}, refit instead"
        )
    parent_row = {item_id: r for r, item_id in enumerate(parent.ids)}
    coords = np.empty((len(ids), 2), dtype=np.float32)
    keep = np.setdiff1d(np.arange(len(ids)), place)
    coords[keep] = parent.coords[method][[parent_row[ids[r]] for r in keep]]
    if len(place):
        coords[place] = reducer.transform(vectors[place])
    return coords, reducer, int(len(place))


def placement_report(
    parent: ParentMap, method: str, vectors: np.ndarray, ids: Sequence[str], refit_coords: np.ndarray
) -> dict[str, Any]:
    """How far the items a placement would move land from their refit position (mean, in map
    units; the map is 2 wide), or why it could not be measured."""
    try:
        if method not in parent.coords:
            raise InvalidFieldError("method", f"{method!r} has no map in version {parent.version}")
        reducer = parent.reducer(method)
        if reducer.dim != vectors.shape[1]:
            raise InvalidFieldError("vectors", f"have dim {vectors.shape[1]}, the parent's reducer {reducer.dim}")
        place = _rows_to_place(parent, vectors, ids)
        if not len(place):
            return {"parent": parent.version, "placed_items": 0, "mean_drift": None}
        placed = reducer.transform(vectors[place])
        drift = placement_drift(placed, [ids[r] for r in place], refit_coords, list(ids), parent.coords[method], parent.ids)
    except (FieldError, FileNotFoundError) as exc:
        return {"parent": parent.version, "skipped": str(exc)}
    return {"parent": parent.version, "placed_items": int(len(place)), "mean_drift": round(drift, 6)}
