"""Argument checks shared by the index and map modules.

Every error names the offending argument and says how to fix it, because these
functions sit right under the API: a caller's bad `k` should read as such, not
as a FAISS assertion from deep inside C++.
"""
from __future__ import annotations

import numbers

import numpy as np

from vitrina.schemas.errors import InvalidFieldError


def positive_int(name: str, value: object) -> int:
    # bool is an int subclass; `k=True` is always a bug, never "1".
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidFieldError(name, f"must be an integer >= 1, got {value!r}")
    return int(value)


def matrix(name: str, value: object, dim: int | None = None) -> np.ndarray:
    """Return `value` as a C-contiguous float32 [rows, dim] array (FAISS needs exactly that)."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of shape [rows, dim], got {type(value).__name__}")
    if value.ndim != 2:
        hint = "; for a single vector pass v[None, :]" if value.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D [rows, dim], got shape {value.shape}{hint}")
    if dim is not None and value.shape[1] != dim:
        raise ValueError(
            f"{name} has dimension {value.shape[1]} but the index has dimension {dim}; "
            "encode the queries with the same encoder as the indexed vectors"
        )
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{name} must hold floats (float32 preferred), got dtype {value.dtype}")
    return np.ascontiguousarray(value, dtype=np.float32)


def row_mask(name: str, value: object, n: int) -> np.ndarray:
    """Return `value` as a boolean mask over the `n` indexed rows."""
    if not isinstance(value, np.ndarray) or value.dtype != np.bool_:
        raise ValueError(
            f"{name} must be a boolean numpy array with one entry per indexed row; "
            "to allow a list of row numbers use `mask = np.zeros(n, bool); mask[rows] = True`"
        )
    if value.ndim != 1 or value.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one entry per indexed row), got {value.shape}")
    return value
