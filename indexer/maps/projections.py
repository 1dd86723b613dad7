"""2-D maps of one embedding space (`spaces/<space>/projections.parquet`).

    umap = project(vectors, "umap", seed=0)            # also "pca", "tsne", "pacmap"
    tw = trustworthiness_of(vectors, umap.coords)      # for reports/eval.json
    coords, moved = align_to_parent(umap.coords, ids, parent_coords, parent_ids)
    write_projections(projections_table(ids, {"umap": coords, "pca": pca}), space / "projections.parquet")
    save_reducer(umap, paths.reducer(space, "umap"))   # reducers/umap.pkl: place items without refitting
    placed = place_new(load_reducer(paths.reducer(space, "umap")), new_vectors)

Coordinates are normalised by one common scale, not per axis: the bounding box
is centred on the origin and divided by half its longer side, so the longer
axis spans exactly [-1, 1], the shorter one lies inside it, and the aspect
ratio (what distances on the map mean) is kept. Points placed later with a
stored reducer use the same frame and may fall slightly outside [-1, 1];
maps aligned to a parent version live in the parent's frame, shrunk back into
[-1, 1] if they reach past it (see align_to_parent).

UMAP, PaCMAP and t-SNE import numba-backed libraries that take seconds to load
and JIT-compile; they are imported on first use so that readers of the file
(the API) never pay for them.
"""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitrina.indexer.maps._files import read_checked, write_checked
from vitrina.indexer.maps.neighbourhoods import InvalidFieldError, _positive_int
from vitrina.schemas import SchemaMismatchError

__all__ = [
    "METHODS",
    "FittedReducer",
    "Projection",
    "align_to_parent",
    "load_reducer",
    "place_new",
    "placement_drift",
    "project",
    "projections_schema",
    "realigned",
    "projections_table",
    "read_projections",
    "save_reducer",
    "trustworthiness_of",
    "write_projections",
]

METHODS = ("umap", "pca", "tsne", "pacmap")
# Methods whose fitted model can place new points into an existing map.
TRANSFORMABLE = ("umap", "pca")
METRICS = ("cosine", "euclidean")
# Bumped when the pickled payload of save_reducer changes shape.
_REDUCER_FORMAT = 1
# Procrustes needs a non-degenerate 2-D point set on both sides.
_MIN_SHARED = 3


# --- parameters ---------------------------------------------------------------------------------


def _check_int(low: int) -> Callable[[str, object, int], int]:
    def check(name: str, value: object, n: int) -> int:
        value = _positive_int(name, value)
        if value < low or value >= n:
            raise InvalidFieldError(name, f"must be an integer in [{low}, {n}) for {n} items, got {value}")
        return value

    return check


def _check_float(low: float, high: float) -> Callable[[str, object, int], float]:
    def check(name: str, value: object, n: int) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
            raise InvalidFieldError(name, f"must be a number in [{low}, {high}], got {value!r}")
        return float(value)

    return check


def _check_metric(name: str, value: object, n: int) -> str:
    if value not in METRICS:
        raise InvalidFieldError(name, f"must be one of {', '.join(METRICS)}, got {value!r}")
    return str(value)


def _check_optional_epochs(name: str, value: object, n: int) -> int | None:
    return None if value is None else _positive_int(name, value)


def _check_perplexity(name: str, value: object, n: int) -> float:
    if value is None:
        # The usual 30, but sklearn needs perplexity < n and small sets look best near n/3.
        return float(min(30.0, (n - 1) / 3))
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < n:
        raise InvalidFieldError(name, f"must be a number in (0, {n}) for {n} items, got {value!r}")
    return float(value)


def _check_tsne_iter(name: str, value: object, n: int) -> int:
    value = _positive_int(name, value)
    if value < 250:
        raise InvalidFieldError(name, f"must be >= 250 (scikit-learn's minimum), got {value}")
    return value


# Per method: parameter -> (default, check). Read-only so no caller can change another's defaults.
_PARAMS: Mapping[str, Mapping[str, tuple[object, Callable[[str, object, int], object]]]] = MappingProxyType(
    {
        "umap": MappingProxyType(
            {
                "n_neighbors": (15, _check_int(2)),
                "min_dist": (0.1, _check_float(0.0, 1.0)),
                "metric": ("cosine", _check_metric),
                "n_epochs": (None, _check_optional_epochs),
            }
        ),
        "pca": MappingProxyType({}),
        "tsne": MappingProxyType(
            {
                "perplexity": (None, _check_perplexity),
                "metric": ("cosine", _check_metric),
                "max_iter": (1000, _check_tsne_iter),
            }
        ),
        "pacmap": MappingProxyType(
            {
                "n_neighbors": (10, _check_int(2)),
                "MN_ratio": (0.5, _check_float(0.0, 10.0)),
                "FP_ratio": (2.0, _check_float(0.0, 10.0)),
                "metric": ("cosine", _check_metric),
            }
        ),
    }
)


def _resolve_params(method: str, n: int, params: Mapping[str, object]) -> dict[str, object]:
    if method not in METHODS:
        raise InvalidFieldError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    spec = _PARAMS[method]
    unknown = sorted(set(params) - set(spec))
    if unknown:
        allowed = ", ".join(spec) or "none"
        raise InvalidFieldError(unknown[0], f"is not a parameter of {method} (allowed: {allowed})")
    return {name: check(name, params.get(name, default), n) for name, (default, check) in spec.items()}


def _check_size(method: str, n: int, params: Mapping[str, object]) -> None:
    # PaCMAP asks FAISS HNSW for n_neighbors + 51 neighbours; when that is every item, HNSW
    # misses some on clustered data and PaCMAP silently uses row -1 at infinite distance.
    if method == "pacmap" and n <= params["n_neighbors"] + 51:
        raise InvalidFieldError(
            "vectors", f"has {n} rows; pacmap needs more than n_neighbors + 51 = {params['n_neighbors'] + 51}"
        )


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise InvalidFieldError("seed", f"must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def _check_vectors(vectors: object, min_rows: int = 1, name: str = "vectors") -> np.ndarray:
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise InvalidFieldError(name, "must be a float numpy array of shape [rows, dim]")
    if vectors.shape[0] < min_rows:
        raise InvalidFieldError(name, f"has {vectors.shape[0]} rows; a map needs at least {min_rows}")
    if not np.isfinite(vectors).all():
        raise InvalidFieldError(name, "holds NaN or infinite values")
    return vectors


def _check_coords(coords: object, name: str) -> np.ndarray:
    if not isinstance(coords, np.ndarray) or coords.ndim != 2 or coords.shape[1] != 2:
        raise InvalidFieldError(name, "must be a numpy array of shape [rows, 2]")
    if not np.issubdtype(coords.dtype, np.floating) or not np.isfinite(coords).all():
        raise InvalidFieldError(name, "must hold finite float coordinates")
    return coords


def _check_ids(ids: Sequence[str], rows: int, name: str) -> list[str]:
    ids = list(ids)
    if len(ids) != rows:
        raise InvalidFieldError(name, f"has {len(ids)} entries for {rows} rows; pass one id per row")
    if not all(isinstance(i, str) for i in ids):
        raise InvalidFieldError(name, "must hold strings")
    if len(set(ids)) != len(ids):
        raise InvalidFieldError(name, "has duplicates; every item needs one position on the map")
    return ids


# --- the normalised frame -----------------------------------------------------------------------


def _fit_frame(raw: np.ndarray) -> tuple[np.ndarray, float]:
    """Offset (bounding-box centre) and one scale (half the longer side) for both axes."""
    low, high = raw.min(axis=0), raw.max(axis=0)
    offset = (low + high) / 2
    scale = float((high - low).max() / 2)
    # All points in one place: put them at the origin rather than divide by zero.
    return offset.astype(np.float64), scale if scale > 0 else 1.0


def _apply_frame(raw: np.ndarray, offset: np.ndarray, scale: float) -> np.ndarray:
    return ((np.asarray(raw, dtype=np.float64) - offset) / scale).astype(np.float32)


# --- fitting ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FittedReducer:
    """A fitted UMAP or PCA model and the frame its map was normalised with.

    transform() places new vectors in the same normalised frame as the map it was fitted
    for; points beyond the fitted extent land outside [-1, 1] rather than being squeezed in.
    """

    method: str
    model: Any
    dim: int
    offset: np.ndarray
    scale: float

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        vectors = _check_vectors(vectors)
        if vectors.shape[1] != self.dim:
            raise InvalidFieldError(
                "vectors", f"have dim {vectors.shape[1]} but the {self.method} reducer was fitted on dim {self.dim}"
            )
        raw = self.model.transform(np.ascontiguousarray(vectors, dtype=np.float32))
        return _apply_frame(raw, self.offset, self.scale)


@dataclass(frozen=True, eq=False)
class Projection:
    """One method's map of a space: coords float32 [n, 2] in [-1, 1], row i is vectors row i.

    params are the resolved parameters (defaults filled in, plus the seed), i.e. what to
    record in the manifest to reproduce the map. reducer is set for umap and pca only.
    """

    method: str
    coords: np.ndarray
    params: Mapping[str, object]
    reducer: FittedReducer | None = None


def project(vectors: np.ndarray, method: str = "umap", seed: int = 0, **params: object) -> Projection:
    """Fit `method` on vectors (float [n, dim], L2-normalised for the cosine metric) and return the map.

    Parameters per method (defaults): umap n_neighbors=15, min_dist=0.1, metric="cosine",
    n_epochs=None (UMAP's own); pca none; tsne perplexity=min(30, (n-1)/3), metric="cosine",
    max_iter=1000; pacmap n_neighbors=10, MN_ratio=0.5, FP_ratio=2.0, metric="cosine"
    (pacmap needs more than n_neighbors + 51 items).
    Runs are seeded: the same vectors, method, seed and params give the same map.
    """
    vectors = _check_vectors(vectors, min_rows=3)
    if vectors.shape[1] < 2:
        raise InvalidFieldError("vectors", f"have dim {vectors.shape[1]}; a 2-D map needs dim >= 2")
    seed = _check_seed(seed)
    resolved = _resolve_params(method, vectors.shape[0], params)
    _check_size(method, vectors.shape[0], resolved)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    raw, model = _FITTERS[method](data, seed, resolved)
    offset, scale = _fit_frame(raw)
    coords = np.clip(_apply_frame(raw, offset, scale), -1.0, 1.0)  # clip only absorbs rounding
    reducer = FittedReducer(method, model, data.shape[1], offset, scale) if method in TRANSFORMABLE else None
    return Projection(method, coords, MappingProxyType({**resolved, "seed": seed}), reducer)


def _fit_umap(data: np.ndarray, seed: int, p: Mapping[str, object]) -> tuple[np.ndarray, Any]:
    import umap

    # n_jobs=1 is what a random_state implies anyway; saying so avoids UMAP's warning.
    model = umap.UMAP(
        n_components=2,
        n_neighbors=p["n_neighbors"],
        min_dist=p["min_dist"],
        metric=p["metric"],
        n_epochs=p["n_epochs"],
        random_state=seed,
        transform_seed=seed,
        n_jobs=1,
    )
    return model.fit_transform(data), model


def _fit_pca(data: np.ndarray, seed: int, p: Mapping[str, object]) -> tuple[np.ndarray, Any]:
    from sklearn.decomposition import PCA

    model = PCA(n_components=2, random_state=seed)
    return model.fit_transform(data), model


def _fit_tsne(data: np.ndarray, seed: int, p: Mapping[str, object]) -> tuple[np.ndarray, None]:
    from sklearn.manifold import TSNE

    model = TSNE(
        n_components=2,
        perplexity=p["perplexity"],
        metric=p["metric"],
        max_iter=p["max_iter"],
        init="pca",
        random_state=seed,
    )
    return model.fit_transform(data), None


def _fit_pacmap(data: np.ndarray, seed: int, p: Mapping[str, object]) -> tuple[np.ndarray, None]:
    import faiss
    import pacmap

    # A seeded PaCMAP reseeds numpy's global RNG and pins FAISS to one thread for the
    # whole process; put both back so the rest of the build is not affected.
    rng_state = np.random.get_state()
    faiss_threads = faiss.omp_get_max_threads()
    try:
        model = pacmap.PaCMAP(
            n_components=2,
            n_neighbors=p["n_neighbors"],
            MN_ratio=p["MN_ratio"],
            FP_ratio=p["FP_ratio"],
            distance="angular" if p["metric"] == "cosine" else "euclidean",
            random_state=seed,
        )
        raw = model.fit_transform(data, init="pca")
    finally:
        np.random.set_state(rng_state)
        faiss.omp_set_num_threads(faiss_threads)
    return raw, None


_FITTERS: Mapping[str, Callable[[np.ndarray, int, Mapping[str, object]], tuple[np.ndarray, Any]]] = MappingProxyType(
    {"umap": _fit_umap, "pca": _fit_pca, "tsne": _fit_tsne, "pacmap": _fit_pacmap}
)


# --- quality ------------------------------------------------------------------------------------


def trustworthiness_of(
    vectors: np.ndarray, coords: np.ndarray, n_neighbors: int = 10, sample: int = 2000, seed: int = 0
) -> float:
    """scikit-learn's trustworthiness (cosine in the space, euclidean on the map), in [0, 1].

    It is quadratic in the number of items, so at most `sample` items, drawn with `seed`,
    are scored; the same seed scores every method on the same items.
    """
    from sklearn.manifold import trustworthiness

    vectors = _check_vectors(vectors)
    coords = _check_coords(coords, "coords")
    if len(coords) != len(vectors):
        raise InvalidFieldError("coords", f"has {len(coords)} rows for {len(vectors)} vectors")
    sample = _positive_int("sample", sample)
    rows = _sample_rows(len(vectors), sample, _check_seed(seed))
    n_neighbors = _positive_int("n_neighbors", n_neighbors)
    if n_neighbors >= len(rows) / 2:
        raise InvalidFieldError("n_neighbors", f"must be < {len(rows) / 2} (half the {len(rows)} scored items)")
    return float(trustworthiness(vectors[rows], coords[rows], n_neighbors=n_neighbors, metric="cosine"))


def _sample_rows(n: int, sample: int, seed: int) -> np.ndarray:
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


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
    coords = _check_coords(coords, "coords")
    parent_coords = _check_coords(parent_coords, "parent_coords")
    ids = _check_ids(ids, len(coords), "ids")
    parent_ids = _check_ids(parent_ids, len(parent_coords), "parent_ids")
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
    placed_coords = _check_coords(placed_coords, "placed_coords")
    refit_coords = _check_coords(refit_coords, "refit_coords")
    placed_ids = _check_ids(placed_ids, len(placed_coords), "placed_ids")
    refit_ids = _check_ids(refit_ids, len(refit_coords), "refit_ids")
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
    coords = _check_coords(coords, "coords")
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


# --- projections.parquet ------------------------------------------------------------------------


def projections_schema(methods: Sequence[str]) -> pa.Schema:
    """id, then <method>_x and <method>_y (float32) per method, in the order given."""
    if len(set(methods)) != len(methods):
        raise InvalidFieldError("methods", f"has duplicates: {list(methods)}")
    fields = [pa.field("id", pa.string(), nullable=False)]
    for method in methods:
        if method not in METHODS:
            raise InvalidFieldError("methods", f"holds {method!r}; expected any of {', '.join(METHODS)}")
        fields += [pa.field(f"{method}_{axis}", pa.float32(), nullable=False) for axis in "xy"]
    return pa.schema(fields)


def projections_table(ids: Sequence[str], projections: Mapping[str, Projection | np.ndarray]) -> pa.Table:
    """One row per id, in the order of ids (the space's embeddings.parquet order).

    Values may be Projections or bare coordinate arrays (e.g. aligned or placed coords).
    """
    if not projections:
        raise InvalidFieldError("projections", "is empty; write at least one method")
    schema = projections_schema(list(projections))
    maps = {
        method: _check_coords(value.coords if isinstance(value, Projection) else value, method)
        for method, value in projections.items()
    }
    rows = len(next(iter(maps.values())))
    columns: list[pa.Array] = []
    for method, coords in maps.items():
        if len(coords) != rows:
            raise InvalidFieldError(method, f"has {len(coords)} rows, other methods {rows}")
        columns += [pa.array(coords[:, 0], pa.float32()), pa.array(coords[:, 1], pa.float32())]
    ids = _check_ids(ids, rows, "ids")
    return pa.table([pa.array(ids, pa.string()), *columns], schema=schema)


def write_projections(table: pa.Table, path: str | Path) -> None:
    """Write atomically (temp file in the same folder, then rename): readers never see half a file."""
    path = Path(path)
    write_checked(table, projections_schema(_methods_in(table.schema, path)), path)


def read_projections(
    path: str | Path, methods: Sequence[str] | None = None
) -> tuple[list[str], dict[str, np.ndarray]]:
    """ids and {method: float32 [n, 2]} of a projections.parquet; methods=None reads all present.

    SchemaMismatchError / InvalidFieldError name the file and the field.
    """
    path = Path(path)
    if methods is None:
        if not path.exists():
            raise FileNotFoundError(f"{path}: file is missing")
        methods = _methods_in(pq.read_schema(path), path)
    expected = projections_schema(list(methods))
    table = read_checked(path, expected)
    ids = table.column("id").to_pylist()
    if len(set(ids)) != len(ids):
        raise InvalidFieldError("id", "has duplicates", path)
    maps = {m: _column_pair(table, m) for m in methods}
    for method, coords in maps.items():
        if not np.isfinite(coords).all():
            raise InvalidFieldError(f"{method}_x", "or its _y holds NaN or infinite values", path)
    return ids, maps


def _column_pair(table: pa.Table, method: str) -> np.ndarray:
    x = table.column(f"{method}_x").to_numpy()
    y = table.column(f"{method}_y").to_numpy()
    return np.stack([x, y], axis=1).astype(np.float32, copy=False)


def _methods_in(schema: pa.Schema, path: Path) -> list[str]:
    """Known methods with a column in the file; one of a pair without the other is an error.

    Other columns (e.g. cluster labels) are allowed so later versions can add them.
    """
    names = set(schema.names)
    found = []
    for method in METHODS:
        x, y = f"{method}_x", f"{method}_y"
        if (x in names) != (y in names):
            raise SchemaMismatchError(path, y if x in names else x, "is missing")
        if x in names:
            found.append(method)
    if not found:
        listed = ", ".join(METHODS)
        raise SchemaMismatchError(path, "umap_x", f"is missing: no <method>_x/_y columns for any of {listed}")
    return found
