"""2-D maps of one embedding space: the projection methods, their parameters, and map quality.

Alignment across versions and the stored reducers are in map_alignment.py; the file,
`spaces/<space>/projections.parquet`, in projection_files.py.

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

import numbers
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from vitrina.indexer.checks import positive_int
from vitrina.indexer.maps.map_checks import check_coords, check_seed, check_vectors
from vitrina.schemas.errors import InvalidFieldError

__all__ = [
    "METHODS",
    "FittedReducer",
    "Projection",
    "project",
    "trustworthiness_of",
]

METHODS = ("umap", "pca", "tsne", "pacmap")
# Methods whose fitted model can place new points into an existing map.
TRANSFORMABLE = ("umap", "pca")
METRICS = ("cosine", "euclidean")


# --- parameters ---------------------------------------------------------------------------------


def _check_int(low: int) -> Callable[[str, object, int], int]:
    def check(name: str, value: object, n: int) -> int:
        value = positive_int(name, value)
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
    return None if value is None else positive_int(name, value)


def _check_perplexity(name: str, value: object, n: int) -> float:
    if value is None:
        # The usual 30, but sklearn needs perplexity < n and small sets look best near n/3.
        return float(min(30.0, (n - 1) / 3))
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < n:
        raise InvalidFieldError(name, f"must be a number in (0, {n}) for {n} items, got {value!r}")
    return float(value)


def _check_tsne_iter(name: str, value: object, n: int) -> int:
    value = positive_int(name, value)
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
        vectors = check_vectors(vectors)
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
    vectors = check_vectors(vectors, min_rows=3)
    if vectors.shape[1] < 2:
        raise InvalidFieldError("vectors", f"have dim {vectors.shape[1]}; a 2-D map needs dim >= 2")
    seed = check_seed(seed)
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

    vectors = check_vectors(vectors)
    coords = check_coords(coords, "coords")
    if len(coords) != len(vectors):
        raise InvalidFieldError("coords", f"has {len(coords)} rows for {len(vectors)} vectors")
    sample = positive_int("sample", sample)
    rows = _sample_rows(len(vectors), sample, check_seed(seed))
    n_neighbors = positive_int("n_neighbors", n_neighbors)
    if n_neighbors >= len(rows) / 2:
        raise InvalidFieldError("n_neighbors", f"must be < {len(rows) / 2} (half the {len(rows)} scored items)")
    return float(trustworthiness(vectors[rows], coords[rows], n_neighbors=n_neighbors, metric="cosine"))


def _sample_rows(n: int, sample: int, seed: int) -> np.ndarray:
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
