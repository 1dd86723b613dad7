"""The worker side of a distributed build: a callable class that encodes whole chunks.

Ray Data runs it on an actor pool (`map_batches(ChunkEncoder, ...)`), but it knows nothing of
Ray: unit tests call it directly. Each worker loads the encoder itself from the driver's
recipe and refuses to work when its fingerprint differs (other weights on that node, another
library version), so every part file holds exactly what a local build would have written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from vitrina.indexer.bundle.chunks import ChunkStore, chunk_key
from vitrina.indexer.catalogue.base import Item
from vitrina.indexer.embed import EmbedSettings, encode_chunks, encoded_text
from vitrina.schemas import Modality


class EncoderMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class EncoderRecipe:
    """How a worker loads the driver's encoder: factory(spec, modality=...), checked by fingerprint.

    `threads` pins torch's intra-op threads: convolution results change in the last bits with
    the thread count, so a worker with the local build's thread count writes identical vectors."""

    factory: Callable[..., Any]
    spec: str
    modality: Modality
    fingerprint: str
    dim: int
    threads: int | None = None

    @classmethod
    def of(cls, encoder, factory: Callable[..., Any], threads: int | None = None) -> "EncoderRecipe":
        return cls(factory, encoder.spec, encoder.modality, encoder.fingerprint, encoder.dim, threads)


def chunk_rows(pending: dict[int, list[Item]]) -> list[dict[str, Any]]:
    """One row per chunk: its number and what encoding needs of each item (id, image, text), with
    the content hash that names the chunk's part file."""
    return [{"chunk": index, "items": json.dumps([[it.id, it.image_ref, encoded_text(it), it.content_hash]
                                                   for it in chunk])}
            for index, chunk in pending.items()]


def _items(payload: str) -> list[Item]:
    return [Item(id=item_id, text=text or "", image_ref=image_ref, content_hash=content_hash)
            for item_id, image_ref, text, content_hash in json.loads(payload)]


class ChunkEncoder:
    """Encodes each chunk of a batch of `chunk_rows` and saves it as the chunk's part file.

    Saving is idempotent (a finished chunk is renamed into place whole), so a chunk that a killed
    job had finished is never encoded again, and one it was halfway through is simply redone."""

    def __init__(self, recipe: EncoderRecipe, store_folder: str, settings: EmbedSettings):
        if recipe.threads:
            torch.set_num_threads(recipe.threads)
        self.encoder = recipe.factory(recipe.spec, modality=recipe.modality)
        if self.encoder.fingerprint != recipe.fingerprint:
            raise EncoderMismatch(f"{recipe.spec}: this worker's encoder has fingerprint {self.encoder.fingerprint}, "
                                  f"the build's has {recipe.fingerprint} (other weights or library versions here?)")
        self.store = ChunkStore(Path(store_folder), recipe.dim, recipe.fingerprint)
        self.settings = settings

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        counts: dict[str, list[int]] = {"chunk": [], "items": [], "encoded": [], "skipped": []}
        for index, payload in zip(batch["chunk"], batch["items"]):
            items = _items(str(payload))
            (result,) = encode_chunks([items], self.encoder, self.settings)
            self.store.save(chunk_key(items), result)
            for key, value in (("chunk", int(index)), ("items", len(items)), ("encoded", len(result.ids)),
                               ("skipped", len(result.skipped))):
                counts[key].append(value)
        return {key: np.asarray(values, dtype=np.int64) for key, values in counts.items()}
