"""Maps that stay put across versions: a refit aligned onto its parent's map, new items placed
with a stored reducer, and the reducers themselves (spaces/<space>/reducers/<method>.pkl).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vitrina.indexer.maps.map_checks import check_coords, check_ids
from vitrina.indexer.maps.projections import TRANSFORMABLE, FittedReducer, Projection
from vitrina.schemas.errors import InvalidFieldError

# Bumped when the pickled payload of save_reducer changes shape.
_REDUCER_FORMAT = 1
# Procrustes needs a non-degenerate 2-D point set on both sides.
_MIN_SHARED = 3

__all__ = ["align_to_parent", "load_reducer", "place_new", "placement_drift", "realigned", "save_reducer"]


# --- stable maps across versions ----------------------------------------------------------------


def align_to_parent(
    coords: np.ndarray,
    ids: Sequence[str],
    parent_coords: np.ndarray,
    parent_ids: Sequence[str],
    fit_range: bool = True,
) -> tuple[np.ndarray, float]:
    """Rotate/reflect, scale uniformly and shift the new map onto its parent version's map.

    The similarity transform is fitted (orthogonal Procrustes) on the ids both maps share
    and applied to every point, so a re-index does not flip, turn or scatter the map.
    Returns the aligned float32 coords and the mean distance shared items moved between
    the parent map and the aligned map, in normalised units (the map is 2 wide).

    With fit_range, a result reaching past [-1, 1] is shrunk about the origin until it
    fits, so files keep their fixed range; the displacement includes that shrink.
    """
    coords = check_coords(coords, "coords")
    parent_coords = check_coords(parent_coords, "parent_coords")
    ids = check_ids(ids, len(coords), "ids")
    parent_ids = check_ids(parent_ids, len(parent_coords), "parent_ids")
    rows, parent_rows = _shared_rows(ids, parent_ids)
    mine = coords[rows].astype(np.float64)
    theirs = parent_coords[parent_rows].astype(np.float64)

    mine_mean, theirs_mean = mine.mean(axis=0), theirs.mean(axis=0)
    mine_c, theirs_c = mine - mine_mean, theirs - theirs_mean
    spread = float((mine_c**2).sum())
    if spread <= 1e-12 or float((theirs_c**2).sum()) <= 1e-12:
        raise InvalidFieldError("ids", "shared items sit at one point on a map; there is nothing to align on")
    # Without a det(R) = +1 correction, R may be a reflection: UMAP and PCA maps flip freely.
    u, s, vt = np.linalg.svd(mine_c.T @ theirs_c)
    rotation = u @ vt
    scale = float(s.sum()) / spread
    aligned = (coords.astype(np.float64) - mine_mean) @ rotation * scale + theirs_mean

    reach = float(np.abs(aligned).max())
    if fit_range and reach > 1.0:
        aligned /= reach
    displacement = float(np.linalg.norm(aligned[rows] - theirs, axis=1).mean())
    return aligned.astype(np.float32), displacement


def _shared_rows(ids: list[str], parent_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    parent_row = {item_id: i for i, item_id in enumerate(parent_ids)}
    pairs = [(i, parent_row[item_id]) for i, item_id in enumerate(ids) if item_id in parent_row]
    if len(pairs) < _MIN_SHARED:
        raise InvalidFieldError(
            "parent_ids", f"shares {len(pairs)} ids with ids; aligning needs at least {_MIN_SHARED}"
        )
    rows, parent_rows = zip(*pairs)
    return np.array(rows), np.array(parent_rows)


def placement_drift(
    placed_coords: np.ndarray,
    placed_ids: Sequence[str],
    refit_coords: np.ndarray,
    refit_ids: Sequence[str],
    existing_coords: np.ndarray,
    existing_ids: Sequence[str],
) -> float:
    """How far items placed with a stored reducer are from where a full refit would put them.

    The refit map (old and new items) is aligned onto the existing map on the items they
    share; the result is the mean distance, in normalised units, between each placed
    item and its aligned refit position.
    """
    placed_coords = check_coords(placed_coords, "placed_coords")
    refit_coords = check_coords(refit_coords, "refit_coords")
    placed_ids = check_ids(placed_ids, len(placed_coords), "placed_ids")
    refit_ids = check_ids(refit_ids, len(refit_coords), "refit_ids")
    refit_row = {item_id: i for i, item_id in enumerate(refit_ids)}
    missing = [item_id for item_id in placed_ids if item_id not in refit_row]
    if missing:
        raise InvalidFieldError("placed_ids", f"{missing[0]!r} and {len(missing) - 1} more are not in refit_ids")
    # Not shrunk to range: both sides must be measured in the existing map's frame.
    aligned, _ = align_to_parent(refit_coords, refit_ids, existing_coords, existing_ids, fit_range=False)
    rows = np.array([refit_row[item_id] for item_id in placed_ids])
    return float(np.linalg.norm(aligned[rows].astype(np.float64) - placed_coords, axis=1).mean())


class AlignedModel:
    """A fitted model followed by the affine map an alignment moved its normalised map with.

    transform() gives positions in the aligned frame, so a reducer built on it (offset 0,
    scale 1) places new items on the map as it was stored, not as it was first fitted.
    """

    def __init__(self, model: Any, offset: np.ndarray, scale: float, matrix: np.ndarray, shift: np.ndarray):
        self.model = model
        self.offset = np.asarray(offset, dtype=np.float64)
        self.scale = float(scale)
        self.matrix = np.asarray(matrix, dtype=np.float64)
        self.shift = np.asarray(shift, dtype=np.float64)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        normalised = (np.asarray(self.model.transform(vectors), dtype=np.float64) - self.offset) / self.scale
        return normalised @ self.matrix + self.shift


def realigned(projection: Projection, coords: np.ndarray) -> Projection:
    """`projection` with its coords replaced by `coords`, an affine image of them (e.g. from
    align_to_parent), and its reducer, if any, moved by the same map.

    The map is recovered by least squares from the two point sets (exact for a similarity
    transform followed by a shrink, which is what align_to_parent applies).
    """
    if not isinstance(projection, Projection):
        raise InvalidFieldError("projection", f"must be a Projection, got {type(projection).__name__}")
    coords = check_coords(coords, "coords")
    if coords.shape != projection.coords.shape:
        raise InvalidFieldError("coords", f"has shape {coords.shape}, the projection {projection.coords.shape}")
    reducer = projection.reducer
    if reducer is not None:
        before = np.hstack([projection.coords.astype(np.float64), np.ones((len(coords), 1))])
        solution, *_ = np.linalg.lstsq(before, coords.astype(np.float64), rcond=None)
        model = AlignedModel(reducer.model, reducer.offset, reducer.scale, solution[:2], solution[2])
        reducer = FittedReducer(reducer.method, model, reducer.dim, np.zeros(2), 1.0)
    return Projection(projection.method, coords.astype(np.float32, copy=False), projection.params, reducer)


# --- new items without refitting ----------------------------------------------------------------


def place_new(reducer: FittedReducer, vectors: np.ndarray) -> np.ndarray:
    """Place vectors into the existing map with the fitted reducer: float32 [n, 2], same frame."""
    if not isinstance(reducer, FittedReducer):
        raise InvalidFieldError("reducer", f"must be a FittedReducer, got {type(reducer).__name__}")
    return reducer.transform(vectors)


def save_reducer(projection: Projection, path: str | Path) -> None:
    """Persist what place_new needs: the fitted UMAP/PCA model and the map's normalisation.

    Written with joblib (a pickle) atomically, next to the projections of the same version.
    """
    import joblib

    if not isinstance(projection, Projection) or projection.reducer is None:
        raise InvalidFieldError(
            "projection", f"has no fitted reducer; only {', '.join(TRANSFORMABLE)} maps can place new items"
        )
    reducer = projection.reducer
    payload = {
        "format": _REDUCER_FORMAT,
        "method": reducer.method,
        "params": dict(projection.params),
        "dim": reducer.dim,
        "offset": np.asarray(reducer.offset, dtype=np.float64),
        "scale": float(reducer.scale),
        "model": reducer.model,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    joblib.dump(payload, tmp)
    os.replace(tmp, path)


def load_reducer(path: str | Path) -> FittedReducer:
    """Load a reducer written by save_reducer.

    Security: loading unpickles, which can run arbitrary code. Only load the reducer file a
    vitrina build wrote into its own bundle, never a file a user supplied or uploaded; the
    checks below catch mistakes, not attacks (they run after unpickling).
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file is missing")
    payload = joblib.load(path)
    if not isinstance(payload, dict) or payload.get("format") != _REDUCER_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise InvalidFieldError("format", f"is {found!r}, expected {_REDUCER_FORMAT}", path)
    method = payload.get("method")
    if method not in TRANSFORMABLE:
        raise InvalidFieldError("method", f"is {method!r}, expected one of {', '.join(TRANSFORMABLE)}", path)
    offset = np.asarray(payload.get("offset"), dtype=np.float64)
    scale = payload.get("scale")
    if offset.shape != (2,) or not isinstance(scale, float) or not math.isfinite(scale) or scale <= 0:
        raise InvalidFieldError("offset", "and scale must be a 2-vector and a positive number", path)
    if not hasattr(payload.get("model"), "transform"):
        raise InvalidFieldError("model", "has no transform method", path)
    return FittedReducer(method, payload["model"], int(payload["dim"]), offset, scale)
