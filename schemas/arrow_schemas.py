"""Arrow schemas of the bundle's Parquet files and a checked reader.

Every reader of a bundle file goes through `read_table_checked`, so a file
written by another version (or by hand) fails loudly, naming the file and the
field, instead of surfacing later as a KeyError deep in the search code.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vitrina.schemas.errors import FieldError

ITEMS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        # Absolute path (or URL) of the item's image; null when it has none.
        pa.field("image_ref", pa.string()),
        # Why the image is missing, when it is ("missing", "unreadable: ...").
        pa.field("image_status", pa.string()),
        # JSON object: scalar or list values per metadata column. JSON keeps
        # heterogeneous catalogues (list-valued materials, numbers, strings)
        # in one column without a per-collection schema.
        pa.field("metadata", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
    ]
)


def embeddings_schema(dim: int) -> pa.Schema:
    if dim <= 0:
        raise ValueError(f"dim must be positive, got {dim}")
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("model_fingerprint", pa.string(), nullable=False),
        ]
    )


class SchemaMismatchError(FieldError):
    """A bundle file does not have the schema vitrina expects."""

    def __init__(self, path: str | Path, field: str, problem: str):
        super().__init__(field, problem, path)


def check_schema(actual: pa.Schema, expected: pa.Schema, path: str | Path) -> None:
    """Raise SchemaMismatchError for the first expected field missing or mistyped.

    Extra columns are allowed so later versions can add fields.
    """
    for field in expected:
        idx = actual.get_field_index(field.name)
        if idx < 0:
            raise SchemaMismatchError(path, field.name, "is missing")
        got = actual.field(idx).type
        if not got.equals(field.type):
            raise SchemaMismatchError(path, field.name, f"has type {got}, expected {field.type}")


def read_table_checked(path: str | Path, expected: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file is missing")
    check_schema(pq.read_schema(path), expected, path)
    return pq.read_table(path, columns=columns)
