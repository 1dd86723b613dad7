"""Precomputed top-k neighbourhoods of every item in one space (`spaces/<space>/neighbours.parquet`).

The API's "neighbours of an item" and the curators' outlier report both need
every item's k nearest items. Computing them once at build time turns those
requests into a lookup and keeps them identical across replicas, whatever
index parameters a replica ends up searching with.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from vitrina.indexer.checks import positive_int
from vitrina.indexer.index import VectorIndex
from vitrina.schemas.bundle_files import NEIGHBOURS_SCHEMA, read_checked, write_checked
from vitrina.schemas.errors import InvalidFieldError

__all__ = [
    "NEIGHBOURS_SCHEMA",
    "InvalidFieldError",
    "NeighbourTable",
    "UnknownItemError",
    "compute_neighbourhoods",
    "neighbours_table",
    "read_neighbours",
    "write_neighbours",
]




class UnknownItemError(InvalidFieldError, KeyError):
    """The item id is not in the table: a ValueError like every input error here, and a
    KeyError because it is a failed lookup (callers map it to "404 not found")."""

    def __init__(self, item_id: str):
        super().__init__("item_id", f"{item_id!r} is not in this neighbour table")

    # KeyError.__str__ would repr() the message, quoting it twice.
    __str__ = BaseException.__str__


@dataclass(frozen=True, eq=False)
class NeighbourTable:
    """Row i of `rows` / `scores` is item ids[i]'s neighbours, best first.

    rows: int64 [n, k], row numbers into `ids`, -1 where there is no neighbour
    (only when the space has k or fewer items); scores: float32 [n, k], -inf there.
    """

    ids: list[str]
    rows: np.ndarray
    scores: np.ndarray
    _row_of: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        rows = np.asarray(self.rows)
        scores = np.asarray(self.scores)
        if rows.ndim != 2 or rows.shape[0] != n or not np.issubdtype(rows.dtype, np.integer):
            raise InvalidFieldError("rows", f"must be an integer array of shape [{n}, k], got {rows.dtype}{rows.shape}")
        if scores.shape != rows.shape or not np.issubdtype(scores.dtype, np.floating):
            raise InvalidFieldError("scores", f"must be a float array of shape {rows.shape}, got {scores.shape}")
        if rows.size and (rows.min() < -1 or rows.max() >= n):
            raise InvalidFieldError("rows", f"must hold row numbers in [0, {n}) or -1")
        row_of = {item_id: i for i, item_id in enumerate(self.ids)}
        if len(row_of) != n:
            raise InvalidFieldError("ids", "has duplicates; every item needs one row to be looked up by")
        object.__setattr__(self, "ids", list(self.ids))
        object.__setattr__(self, "rows", rows.astype(np.int64, copy=False))
        object.__setattr__(self, "scores", scores.astype(np.float32, copy=False))
        object.__setattr__(self, "_row_of", row_of)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def k(self) -> int:
        return int(self.rows.shape[1])

    def of(self, item_id: str) -> tuple[list[str], np.ndarray]:
        """An item's neighbour ids and float32 scores, best first; raises UnknownItemError."""
        i = self._row_of.get(item_id)
        if i is None:
            raise UnknownItemError(item_id)
        present = self.rows[i] >= 0
        return [self.ids[r] for r in self.rows[i][present]], self.scores[i][present]


def compute_neighbourhoods(
    index: VectorIndex,
    vectors: np.ndarray,
    ids: list[str],
    k: int = 20,
    batch_size: int = 4096,
    progress: bool = True,
) -> NeighbourTable:
    """Every item's k nearest other items in `index`, which holds `vectors` as rows 0..n-1.

    The item itself is dropped by row number, not by position: with exact
    duplicates FAISS may rank a twin (score tied with the item's own) first, or
    leave the item out of its own top k+1 entirely, so "drop the first hit"
    would keep the item or lose a real neighbour.
    """
    k = positive_int("k", k)
    batch_size = positive_int("batch_size", batch_size)
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise InvalidFieldError("vectors", "must be a float numpy array of shape [rows, dim]")
    n = vectors.shape[0]
    if len(ids) != n:
        raise InvalidFieldError("ids", f"has {len(ids)} entries but vectors has {n} rows; pass one id per row")
    if index.ntotal != n:
        raise InvalidFieldError(
            "index", f"holds {index.ntotal} vectors but vectors has {n} rows; pass the vectors it was built from"
        )

    rows = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    # One extra hit makes room for the item itself; FAISS rejects k > ntotal on some indexes.
    fetch = min(k + 1, n)
    with tqdm(total=n, desc="neighbours", unit="item", disable=not progress) as bar:
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            s, r = index.search(vectors[start:stop], fetch)
            own = np.arange(start, stop)[:, None]
            # Stable sort moves the item's own hit behind the others and keeps their order;
            # if it was not returned, the k+1 others are all kept in order and the last dropped.
            keep = np.argsort(r == own, axis=1, kind="stable")[:, :k]
            width = keep.shape[1]
            rows[start:stop, :width] = np.take_along_axis(r, keep, axis=1)
            scores[start:stop, :width] = np.take_along_axis(s, keep, axis=1)
            bar.update(stop - start)
    # Where the item was returned and the space has <= k items, the own row is now in
    # the tail; it is padding there, not a neighbour.
    own_rows = rows == np.arange(n)[:, None]
    rows[own_rows] = -1
    scores[own_rows | (rows < 0)] = -np.inf
    return NeighbourTable(list(ids), rows, scores)


def neighbours_table(result: NeighbourTable, ids: Sequence[str] | None = None) -> pa.Table:
    """`result` as a NEIGHBOURS_SCHEMA table; padding (-1 rows) is left out of the lists.

    ids, when given, must equal result.ids: a cheap guard that the file is written
    in the row order of the space's embeddings.parquet, which FAISS ids refer to.
    """
    if ids is not None and list(ids) != result.ids:
        raise InvalidFieldError("ids", "differ from the ids the neighbourhoods were computed for")
    present = result.rows >= 0
    lengths = present.sum(axis=1)
    if lengths.sum() >= 2**31:
        # list<> offsets are int32; the cast below would wrap silently.
        raise InvalidFieldError("result", f"holds {lengths.sum()} neighbours, more than one Parquet list column can")
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    id_array = pa.array(result.ids, pa.string())
    flat_ids = id_array.take(pa.array(result.rows[present]))
    return pa.table(
        [
            id_array,
            pa.ListArray.from_arrays(offsets, flat_ids),
            pa.ListArray.from_arrays(offsets, pa.array(result.scores[present], pa.float32())),
        ],
        schema=NEIGHBOURS_SCHEMA,
    )


def write_neighbours(table: pa.Table, path: str | Path) -> None:
    write_checked(table, NEIGHBOURS_SCHEMA, path)


def read_neighbours(path: str | Path) -> NeighbourTable:
    """Read a neighbours.parquet; SchemaMismatchError / InvalidFieldError name the file and field."""
    path = Path(path)
    table = read_checked(path, NEIGHBOURS_SCHEMA)
    id_col = table.column("id").combine_chunks()
    neighbours = table.column("neighbour_ids").combine_chunks()
    score_lists = table.column("scores").combine_chunks()

    lengths = pc.list_value_length(neighbours).to_numpy(zero_copy_only=False)
    if not np.array_equal(lengths, pc.list_value_length(score_lists).to_numpy(zero_copy_only=False)):
        raise InvalidFieldError("scores", "lists differ in length from their neighbour_ids lists", path)
    flat_rows = pc.index_in(pc.list_flatten(neighbours), value_set=id_col)
    if flat_rows.null_count:
        raise InvalidFieldError("neighbour_ids", "refers to ids that have no row in the 'id' column", path)
    flat_scores = pc.list_flatten(score_lists)
    if flat_scores.null_count:
        raise InvalidFieldError("scores", "has null entries inside its lists", path)

    n = len(id_col)
    k = int(lengths.max()) if n else 0
    rows = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    owner = np.repeat(np.arange(n), lengths)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows[owner, position] = flat_rows.to_numpy(zero_copy_only=False)
    scores[owner, position] = flat_scores.to_numpy(zero_copy_only=False)
    try:
        return NeighbourTable(id_col.to_pylist(), rows, scores)
    except InvalidFieldError as exc:
        raise InvalidFieldError(exc.field, exc.problem, path) from exc

