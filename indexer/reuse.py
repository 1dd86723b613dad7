"""Vectors a build can take instead of encoding again.

An item's vector depends only on its content and the encoder: `content_hash`
covers text, metadata and image bytes, and an encoder's fingerprint covers its
weights and preprocessing. So a vector stored under the same (content hash,
fingerprint) is exactly what encoding would produce, and a build takes it from:
- the parent version (CURRENT unless `--parent` names another), for every space whose encoder is unchanged;
- spaces built earlier in the same build, e.g. `image` and `text` built with the
  same encoder under two names.
A derived encoder (a trained joint tower: head(base(x))) says which base
fingerprint it is computed from; its vectors then follow from stored base
vectors by the head alone, which turns re-indexing after `vitrina train align`
from minutes of image decoding into a matrix product.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from vitrina.indexer.bundle.chunks import table_to_vectors
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.indexer.catalogue.base import Item
from vitrina.schemas import ITEMS_SCHEMA, Manifest, embeddings_schema, read_table_checked

log = logging.getLogger("vitrina.indexer")


class DerivedEncoder(Protocol):
    """An encoder whose vectors are a pure function of another encoder's vectors."""

    base_fingerprint: str

    def project(self, base_vectors: np.ndarray) -> np.ndarray: ...


@dataclass
class _Source:
    """Vectors of one fingerprint, with the content hashes they were computed from."""

    load: Callable[[], tuple[list[str], np.ndarray]]
    hashes: dict[str, str]
    _rows: dict[str, int] | None = None
    _vectors: np.ndarray | None = None

    def rows(self) -> tuple[dict[str, int], np.ndarray]:
        if self._rows is None:
            ids, self._vectors = self.load()
            self._rows = {item_id: row for row, item_id in enumerate(ids)}
        return self._rows, self._vectors  # type: ignore[return-value]


@dataclass
class Reused:
    """What `VectorPool.take` found: vectors for `ids` (in item order) and how many came each way."""

    ids: list[str]
    vectors: np.ndarray
    stored: int = 0
    projected: int = 0


class VectorPool:
    """Stored vectors keyed by encoder fingerprint; loaded only when a fingerprint is asked for."""

    def __init__(self) -> None:
        self._sources: dict[str, list[_Source]] = {}

    def add(self, fingerprint: str, ids: Sequence[str], vectors: np.ndarray, hashes: dict[str, str]) -> None:
        ids, vectors = list(ids), vectors
        self._sources.setdefault(fingerprint, []).append(_Source(lambda: (ids, vectors), hashes))

    def add_version(self, coll: CollectionPaths, version: str) -> None:
        """Register every space of a published version (read lazily; a damaged one is ignored)."""
        paths = coll.version(version)
        try:
            manifest = Manifest.read(paths.manifest)
            items = read_table_checked(paths.items, ITEMS_SCHEMA)
        except (OSError, ValueError) as exc:
            log.warning("previous version unreadable; encoding everything", extra={"version": version, "error": str(exc)})
            return
        hashes = dict(zip(items.column("id").to_pylist(), items.column("content_hash").to_pylist()))
        for name, space in manifest.spaces.items():
            encoder = space.encoders.get(space.indexed_modality)
            if encoder is None:
                continue
            path, dim = paths.embeddings(name), space.dim
            self._sources.setdefault(encoder.fingerprint, []).append(_Source(_parquet_loader(path, dim), hashes))

    def take(self, encoder, items: Sequence[Item]) -> Reused:
        """Vectors for as many of `items` as stored ones allow, in `items` order."""
        found = self._lookup(encoder.fingerprint, items)
        stored = len(found)
        base = getattr(encoder, "base_fingerprint", None)
        if base is not None:
            rest = [it for it in items if it.id not in found]
            from_base = self._lookup(base, rest)
            if from_base:
                ids = list(from_base)
                found.update(zip(ids, encoder.project(np.stack([from_base[i] for i in ids]))))
        ids, vectors = merge_in_order(items, [(list(found), list(found.values()))], encoder.dim)
        return Reused(ids, vectors, stored, len(found) - stored)

    def _lookup(self, fingerprint: str, items: Sequence[Item]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for source in self._sources.get(fingerprint, []):
            wanted = [it for it in items if it.id not in found and source.hashes.get(it.id) == it.content_hash]
            if not wanted:
                continue
            try:
                rows, vectors = source.rows()
            except (OSError, ValueError) as exc:
                log.warning("stored vectors unreadable; encoding instead", extra={"error": str(exc)})
                continue
            for it in wanted:
                row = rows.get(it.id)
                if row is not None:
                    found[it.id] = vectors[row]
        return found


def _parquet_loader(path: Path, dim: int) -> Callable[[], tuple[list[str], np.ndarray]]:
    def load() -> tuple[list[str], np.ndarray]:
        table = read_table_checked(path, embeddings_schema(dim))
        return table.column("id").to_pylist(), table_to_vectors(table, dim)

    return load


def merge_in_order(items: Sequence[Item], parts: Sequence[tuple[list[str], np.ndarray]], dim: int) -> tuple[list[str], np.ndarray]:
    """Ids and vectors of several parts, in `items` order (the order the index rows follow)."""
    by_id: dict[str, np.ndarray] = {}
    for ids, vectors in parts:
        by_id.update(zip(ids, vectors))
    ids = [it.id for it in items if it.id in by_id]
    if not ids:
        return [], np.zeros((0, dim), np.float32)
    return ids, np.stack([by_id[i] for i in ids]).astype(np.float32, copy=False)
