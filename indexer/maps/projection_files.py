"""spaces/<space>/projections.parquet: one row per item, x and y per map method."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitrina.indexer.maps.map_checks import check_coords, check_ids
from vitrina.indexer.maps.projections import METHODS, Projection
from vitrina.schemas import SchemaMismatchError
from vitrina.schemas.bundle_files import projection_fields, read_checked, write_checked
from vitrina.schemas.errors import InvalidFieldError

__all__ = ["projections_schema", "projections_table", "read_projections", "write_projections"]


# --- projections.parquet ------------------------------------------------------------------------


def projections_schema(methods: Sequence[str]) -> pa.Schema:
    """id, then <method>_x and <method>_y (float32) per method, in the order given."""
    if len(set(methods)) != len(methods):
        raise InvalidFieldError("methods", f"has duplicates: {list(methods)}")
    for method in methods:
        if method not in METHODS:
            raise InvalidFieldError("methods", f"holds {method!r}; expected any of {', '.join(METHODS)}")
    return pa.schema(projection_fields(methods))


def projections_table(ids: Sequence[str], projections: Mapping[str, Projection | np.ndarray]) -> pa.Table:
    """One row per id, in the order of ids (the space's embeddings.parquet order).

    Values may be Projections or bare coordinate arrays (e.g. aligned or placed coords).
    """
    if not projections:
        raise InvalidFieldError("projections", "is empty; write at least one method")
    schema = projections_schema(list(projections))
    maps = {
        method: check_coords(value.coords if isinstance(value, Projection) else value, method)
        for method, value in projections.items()
    }
    rows = len(next(iter(maps.values())))
    columns: list[pa.Array] = []
    for method, coords in maps.items():
        if len(coords) != rows:
            raise InvalidFieldError(method, f"has {len(coords)} rows, other methods {rows}")
        columns += [pa.array(coords[:, 0], pa.float32()), pa.array(coords[:, 1], pa.float32())]
    ids = check_ids(ids, rows, "ids")
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
