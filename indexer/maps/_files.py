"""The checks every map file (neighbours, outliers, clusters, projections, attributions) makes on its way to and from disk."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pyarrow as pa

from vitrina.indexer.bundle.writer import write_parquet_atomic
from vitrina.schemas import check_schema, read_table_checked


def write_checked(table: pa.Table, schema: pa.Schema, path: str | Path) -> None:
    """Write atomically (temp file in the same folder, then rename) a table that has `schema`:
    readers never see half a file, nor one they would refuse."""
    path = Path(path)
    check_schema(table.schema, schema, path)
    write_parquet_atomic(table, path)


def read_checked(path: str | Path, schema: pa.Schema) -> pa.Table:
    """The columns of `schema` from a file that has it, none of them holding nulls: what
    write_checked wrote. SchemaMismatchError / InvalidFieldError name the file and the field."""
    table = read_table_checked(path, schema, columns=schema.names)
    reject_nulls(table, path)
    return table


def reject_nulls(table: pa.Table, path: str | Path, columns: Sequence[str] | None = None) -> None:
    """InvalidFieldError naming the file and the first column (of `columns`, default all) holding nulls."""
    # Imported here: neighbourhoods.py, where the error lives, uses these helpers too.
    from vitrina.indexer.maps.neighbourhoods import InvalidFieldError

    for name in columns or table.column_names:
        nulls = table.column(name).null_count
        if nulls:
            raise InvalidFieldError(name, f"has {nulls} null values", path)
