"""Frozen-encoder features for training heads, computed once.

Training a head on a frozen encoder needs that encoder's vector for every item,
many times over. They come, in this order, from:
1. the bundle itself: a space of the version whose manifest records the same
   encoder spec *and* fingerprint already holds them (free);
2. a cache file `<cache_dir>/<encoder fingerprint>.parquet`, keyed by item id and
   content hash, so an edited item is recomputed;
3. the encoder, on the item's text or image; results are added to the cache.

The bundle is read through vitrina.schemas only (training never imports the indexer).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from vitrina.schemas import ITEMS_SCHEMA, Manifest, Modality, embeddings_schema, read_table_checked
from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths
from vitrina.schemas.errors import FieldError
from vitrina.training.encoders.base import Encoder, ImageEncoder
from vitrina.training.images import DEFAULT_MAX_PIXELS, ImageError, load_image

log = logging.getLogger("vitrina.training.features")

ENCODE_BATCH = 64


class FeatureError(ValueError):
    """A bundle or cache that cannot provide features; names the path and what to fix."""


@dataclass
class FrozenFeatures:
    """Vectors of the requested ids that have one, in request order."""

    ids: list[str]
    vectors: np.ndarray  # float32 [len(ids), dim]
    missing: dict[str, str] = field(default_factory=dict)  # id -> why it has no vector
    sources: dict[str, int] = field(default_factory=dict)  # where the vectors came from -> count


def current_version_dir(bundle: str | Path, version: str | None = None) -> Path:
    """versions/<CURRENT or version> of a bundle collection folder `<root>/<collection>`."""
    try:
        paths = CollectionPaths(Path(bundle)).published(version)
    except FieldError as exc:
        raise FeatureError(str(exc)) from None
    if not paths.manifest.is_file():
        raise FeatureError(f"{paths.root}: no manifest.json; the version is incomplete")
    return paths.root


def read_items(version_dir: str | Path) -> pa.Table:
    return read_table_checked(VersionPaths(Path(version_dir)).items, ITEMS_SCHEMA,
                              columns=["id", "title", "text", "image_ref", "metadata", "content_hash"])


def load_frozen_features(
    version_dir: str | Path,
    ids: Sequence[str],
    encoder: Encoder,
    cache_dir: str | Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> FrozenFeatures:
    """`encoder`'s vectors for `ids` (items of the bundle version at `version_dir`)."""
    version_dir = Path(version_dir)
    found: dict[str, np.ndarray] = {}
    sources: dict[str, int] = {}
    space_name, from_bundle = _bundle_vectors(version_dir, encoder, set(ids))
    if from_bundle:
        found.update(from_bundle)
        sources[f"bundle:{space_name}"] = len(from_bundle)
    todo = [i for i in ids if i not in found]
    missing: dict[str, str] = {}
    if todo:
        items = _item_rows(version_dir, todo)
        missing.update({i: "not in items.parquet" for i in todo if i not in items})
        keys = {i: f"{i}|{items[i]['content_hash']}" for i in todo if i in items}
        cache = FeatureCache(cache_dir, encoder) if cache_dir is not None else None
        cached = cache.get(list(keys.values())) if cache else {}
        hits = {i: cached[k] for i, k in keys.items() if k in cached}
        found.update(hits)
        if hits:
            sources["cache"] = len(hits)
        to_compute = [i for i in keys if i not in hits]
        if to_compute:
            computed, failures = _compute(encoder, [items[i] for i in to_compute], max_pixels, progress)
            missing.update(failures)
            found.update(computed)
            sources["computed"] = len(computed)
            if cache and computed:
                cache.put({keys[i]: v for i, v in computed.items()})
    kept = [i for i in ids if i in found]
    vectors = np.stack([found[i] for i in kept]).astype(np.float32) if kept else np.zeros((0, encoder.dim), np.float32)
    log.info("frozen features", extra={"encoder": encoder.spec, "vectors": len(kept), "missing": len(missing), **sources})
    return FrozenFeatures(kept, vectors, missing, sources)


class FeatureCache:
    """One Parquet file per encoder fingerprint: key -> vector."""

    def __init__(self, cache_dir: str | Path, encoder: Encoder):
        self.path = Path(cache_dir) / f"{encoder.fingerprint}.parquet"
        self.dim = encoder.dim
        self.schema = pa.schema([pa.field("key", pa.string(), nullable=False),
                                 pa.field("vector", pa.list_(pa.float32(), self.dim), nullable=False)])

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        table = self._read()
        if table is None:
            return {}
        wanted = set(keys)
        stored = table["key"].to_pylist()
        rows = [r for r, key in enumerate(stored) if key in wanted]
        if not rows:
            return {}
        vectors = _vectors(table.take(rows)["vector"], self.dim)
        return {stored[r]: vectors[n] for n, r in enumerate(rows)}

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        old = self._read()
        new = pa.table({"key": list(vectors), "vector": _vector_array(np.stack(list(vectors.values())), self.dim)},
                       schema=self.schema)
        if old is not None:
            keep = [r for r, key in enumerate(old["key"].to_pylist()) if key not in vectors]
            new = pa.concat_tables([old.take(keep).cast(self.schema), new])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        pq.write_table(new, tmp)
        os.replace(tmp, self.path)  # readers never see a half-written cache

    def _read(self) -> pa.Table | None:
        if not self.path.is_file():
            return None
        table = pq.read_table(self.path)
        if table.schema.field("vector").type != self.schema.field("vector").type:
            raise FeatureError(f"{self.path}: vectors are {table.schema.field('vector').type}, expected {self.dim}-d; delete the file")
        return table


def _bundle_vectors(version_dir: Path, encoder: Encoder, wanted: set[str]) -> tuple[str | None, dict[str, np.ndarray]]:
    manifest = Manifest.read(version_dir / "manifest.json")
    for name, space in manifest.spaces.items():
        info = space.encoders.get(encoder.modality)
        if space.indexed_modality is not encoder.modality or info is None:
            continue
        if info.spec != encoder.spec or info.fingerprint != encoder.fingerprint:
            continue
        table = read_table_checked(VersionPaths(version_dir).embeddings(name), embeddings_schema(space.dim))
        ids = table["id"].to_pylist()
        fingerprints = table["model_fingerprint"].to_pylist()
        rows = [r for r, (i, f) in enumerate(zip(ids, fingerprints)) if i in wanted and f == encoder.fingerprint]
        vectors = _vectors(table["vector"].take(rows), space.dim)
        return name, {ids[r]: vectors[n] for n, r in enumerate(rows)}
    return None, {}


def _item_rows(version_dir: Path, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    wanted = set(ids)
    return {row["id"]: row for row in read_items(version_dir).to_pylist() if row["id"] in wanted}


def _compute(encoder: Encoder, rows: list[dict[str, Any]], max_pixels: int, progress: bool) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    computed: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    start = time.perf_counter()
    bar = tqdm(total=len(rows), desc=f"encode {encoder.modality.value}", unit="item",
               disable=not progress or not log.isEnabledFor(logging.INFO))
    for begin in range(0, len(rows), ENCODE_BATCH):
        batch = rows[begin:begin + ENCODE_BATCH]
        inputs, batch_ids = [], []
        for row in batch:
            try:
                inputs.append(_input_of(row, encoder, max_pixels))
                batch_ids.append(row["id"])
            except (ImageError, FeatureError) as exc:
                failures[row["id"]] = str(exc)
        if inputs:
            computed.update(zip(batch_ids, encoder.encode(inputs)))
        bar.update(len(batch))
    bar.close()
    log.info("encoded", extra={"encoder": encoder.spec, "items": len(computed), "failed": len(failures),
                               "items_per_s": round(len(rows) / max(time.perf_counter() - start, 1e-9), 1)})
    return computed, failures


def _input_of(row: dict[str, Any], encoder: Encoder, max_pixels: int) -> Any:
    if isinstance(encoder, ImageEncoder) or encoder.modality is Modality.IMAGE:
        if not row.get("image_ref"):
            raise FeatureError("item has no image")
        return load_image(row["image_ref"], max_pixels=max_pixels)
    if not (row.get("text") or "").strip():
        raise FeatureError("item has no text")
    return row["text"]


def _vectors(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32, copy=False)


def _vector_array(vectors: np.ndarray, dim: int) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel()), dim)
