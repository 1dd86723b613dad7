"""Argument checks of the map modules: vectors to project, coordinates, ids and seeds.

Each error names the argument, so a caller's bad input reads as such and not as a failure deep
inside scikit-learn or UMAP.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from vitrina.schemas.errors import InvalidFieldError


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise InvalidFieldError("seed", f"must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def check_vectors(vectors: object, min_rows: int = 1, name: str = "vectors") -> np.ndarray:
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise InvalidFieldError(name, "must be a float numpy array of shape [rows, dim]")
    if vectors.shape[0] < min_rows:
        raise InvalidFieldError(name, f"has {vectors.shape[0]} rows; a map needs at least {min_rows}")
    if not np.isfinite(vectors).all():
        raise InvalidFieldError(name, "holds NaN or infinite values")
    return vectors


def check_coords(coords: object, name: str) -> np.ndarray:
    if not isinstance(coords, np.ndarray) or coords.ndim != 2 or coords.shape[1] != 2:
        raise InvalidFieldError(name, "must be a numpy array of shape [rows, 2]")
    if not np.issubdtype(coords.dtype, np.floating) or not np.isfinite(coords).all():
        raise InvalidFieldError(name, "must hold finite float coordinates")
    return coords


def check_ids(ids: Sequence[str], rows: int, name: str) -> list[str]:
    ids = list(ids)
    if len(ids) != rows:
        raise InvalidFieldError(name, f"has {len(ids)} entries for {rows} rows; pass one id per row")
    if not all(isinstance(i, str) for i in ids):
        raise InvalidFieldError(name, "must hold strings")
    if len(set(ids)) != len(ids):
        raise InvalidFieldError(name, "has duplicates; every item needs one position on the map")
    return ids
