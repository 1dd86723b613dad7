"""The Arrow schemas of the bundle's map, report and attribution files, and the checks every
one of them passes on its way to and from disk.

items.parquet and embeddings.parquet are in arrow_schemas.py; where each file lives is in
bundle_layout.py. A writer checks its table against the schema before the atomic rename, and a
reader refuses a file without the schema's columns or with nulls in them, naming the file and
the field, so a bundle written by another version fails loudly and early.
"""
from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitrina.schemas.arrow_schemas import check_schema, read_table_checked
from vitrina.schemas.errors import InvalidFieldError

# --- spaces/<space>/neighbours.parquet ----------------------------------------------------------
NEIGHBOURS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        # Best first. Lists are shorter than k only when the space has k or fewer items.
        pa.field("neighbour_ids", pa.list_(pa.string()), nullable=False),
        pa.field("scores", pa.list_(pa.float32()), nullable=False),
    ]
)

# --- spaces/<space>/clusters.parquet and the labels beside the projections ----------------------
CLUSTERS_SCHEMA = pa.schema(
    [
        # One file may hold the clusterings of several methods; (method, cluster) is the key.
        pa.field("method", pa.string(), nullable=False),
        pa.field("cluster", pa.int32(), nullable=False),
        pa.field("size", pa.int32(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        # Best first; empty for the noise row and for clusters whose members have no usable words.
        pa.field("keywords", pa.list_(pa.string()), nullable=False),
        # Most central first; empty for the noise row.
        pa.field("representative_ids", pa.list_(pa.string()), nullable=False),
    ]
)

# Long format (one row per item and method) so clusterings by several methods can sit
# beside the projections' coordinates and be joined to them on id.
CLUSTER_LABELS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("cluster", pa.int32(), nullable=False),
    ]
)

# --- reports/outliers.parquet --------------------------------------------------------------------
# float64 shares so a report read back equals the Outliers it was written from.
OUTLIERS_SCHEMA = pa.schema(
    [
        # Each space has its own neighbourhoods, so the same item may be an outlier in one and not another.
        pa.field("space", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("attribute", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("majority_label", pa.string(), nullable=False),
        pa.field("majority_share", pa.float64(), nullable=False),
        pa.field("own_label_share", pa.float64(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
    ]
)

# --- attributions/text.parquet -------------------------------------------------------------------
WORD_TYPE = pa.struct([
    pa.field("word", pa.string(), nullable=False),
    pa.field("start", pa.int32(), nullable=False),
    pa.field("end", pa.int32(), nullable=False),
    pa.field("score", pa.float32(), nullable=False),
    pa.field("normalised", pa.float32(), nullable=False),
])
TEXT_ATTRIBUTIONS_SCHEMA = pa.schema([
    pa.field("space", pa.string(), nullable=False),
    pa.field("id", pa.string(), nullable=False),
    pa.field("text_sha256", pa.string(), nullable=False),
    pa.field("fingerprint", pa.string(), nullable=False),
    pa.field("words", pa.list_(pa.field("item", WORD_TYPE, nullable=False)), nullable=False),
    pa.field("score", pa.float32(), nullable=False),
    pa.field("baseline_score", pa.float32(), nullable=False),
    pa.field("delta", pa.float32(), nullable=False),
    pa.field("n_steps", pa.int32(), nullable=False),
    pa.field("reduction", pa.string(), nullable=False),
    # "integrated_gradients" or "gradient_x_input" (training/explain/text_words.py); versions
    # written before the column existed hold integrated gradients.
    pa.field("method", pa.string(), nullable=False),
])


# --- spaces/<space>/projections.parquet ----------------------------------------------------------
def projection_fields(methods: Sequence[str]) -> list[pa.Field]:
    """id, then <method>_x and <method>_y (float32) per method, in the order given."""
    fields = [pa.field("id", pa.string(), nullable=False)]
    for method in methods:
        fields += [pa.field(f"{method}_{axis}", pa.float32(), nullable=False) for axis in "xy"]
    return fields


# --- reading and writing -------------------------------------------------------------------------
def _write_then_rename(path: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` beside `path`, then rename, so a reader sees the old file or the new one,
    never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    _write_then_rename(path, lambda tmp: pq.write_table(table, tmp))


def write_vectors_atomic(vectors: np.ndarray, path: Path) -> None:
    """A float32 C-order .npy, written then renamed like every bundle file."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a handle: given a name, np.save would append ".npy" to it
            np.save(fh, matrix, allow_pickle=False)

    _write_then_rename(path, write)


def open_vectors(path: Path, rows: int, dim: int) -> np.ndarray:
    """The .npy at `path` memory-mapped read-only: pages are read from disk (or the page cache,
    shared by every process serving the bundle) only where a search touches them.
    InvalidFieldError when it is not the float32 [rows, dim] matrix the manifest describes."""
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise InvalidFieldError("vectors", f"is not a readable .npy ({exc})", path) from None
    if vectors.dtype != np.float32 or vectors.shape != (rows, dim) or not vectors.flags.c_contiguous:
        raise InvalidFieldError("vectors", f"holds {vectors.dtype} {vectors.shape}, expected float32 ({rows}, {dim})", path)
    mapping = getattr(vectors, "_mmap", None)
    if mapping is not None and hasattr(mmap, "MADV_RANDOM"):
        # Searches read a few scattered rows; the kernel's readahead would pull in megabytes around each.
        mapping.madvise(mmap.MADV_RANDOM)
    return vectors


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
    for name in columns or table.column_names:
        nulls = table.column(name).null_count
        if nulls:
            raise InvalidFieldError(name, f"has {nulls} null values", path)
