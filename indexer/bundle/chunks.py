"""Resumable embedding chunks.

A build encodes items in fixed, deterministic chunks and writes each chunk
as its own Parquet file (plus a sidecar listing the items it had to skip).
A chunk counts as done only once its Parquet file has been renamed into
place, so a crash mid-chunk loses that chunk and nothing else, and a rerun
re-encodes only the missing chunks.

A chunk's file is named by what determines its vectors and nothing else: the
encoder's fingerprint (weights and preprocessing) and its items' ids and content
hashes. So a rerun finds it whatever else changed (another --attribution-items,
another map method: a different build key), and never takes it for items whose
content changed since.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitrina.schemas.bundle_layout import write_atomic
from vitrina.schemas import embeddings_schema, read_table_checked


@dataclass
class ChunkResult:
    ids: list[str]
    vectors: np.ndarray
    skipped: dict[str, str] = field(default_factory=dict)


def vectors_to_table(ids: list[str], vectors: np.ndarray, fingerprint: str, dim: int) -> pa.Table:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    if len(vectors) != len(ids):
        raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()), dim)
    return pa.table(
        [pa.array(ids, pa.string()), column, pa.array([fingerprint] * len(ids), pa.string())],
        schema=embeddings_schema(dim),
    )


def table_to_vectors(table: pa.Table, dim: int) -> np.ndarray:
    column = table.column("vector").combine_chunks()
    if len(column) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return column.values.to_numpy(zero_copy_only=False).reshape(len(column), dim).astype(np.float32, copy=False)


def chunk_key(items: Sequence) -> list[list[str]]:
    """What a chunk's vectors depend on besides the encoder: [id, content hash] per item, in order."""
    return [[it.id, it.content_hash] for it in items]


class ChunkStore:
    def __init__(self, folder: Path, dim: int, fingerprint: str):
        self.folder = folder
        self.dim = dim
        self.fingerprint = fingerprint

    def _paths(self, expected: list[list[str]]) -> tuple[Path, Path]:
        name = "chunk-" + hashlib.sha256(json.dumps([self.fingerprint, expected]).encode()).hexdigest()[:32]
        return self.folder / f"{name}.parquet", self.folder / f"{name}.json"

    def load(self, expected: list[list[str]]) -> ChunkResult | None:
        """The chunk of `expected` (chunk_key of its items) if an earlier run finished it, else None."""
        data_path, side_path = self._paths(expected)
        if not (data_path.exists() and side_path.exists()):
            return None
        try:
            side = json.loads(side_path.read_text())
            table = read_table_checked(data_path, embeddings_schema(self.dim))
        except (ValueError, OSError):
            return None  # a damaged chunk is simply encoded again
        if side.get("expected") != expected or side.get("fingerprint") != self.fingerprint:
            return None
        return ChunkResult(table.column("id").to_pylist(), table_to_vectors(table, self.dim), side.get("skipped", {}))

    def save(self, expected: list[list[str]], result: ChunkResult) -> None:
        data_path, side_path = self._paths(expected)
        side = {"expected": expected, "fingerprint": self.fingerprint, "skipped": result.skipped}
        # Sidecar first: the Parquet rename is what marks the chunk done.
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(side_path, json.dumps(side))
        tmp = data_path.with_name(data_path.name + ".tmp")
        pq.write_table(vectors_to_table(result.ids, result.vectors, self.fingerprint, self.dim), tmp)
        tmp.replace(data_path)
