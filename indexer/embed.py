"""Batch embedding of one space, chunked and resumable.

Images are decoded and preprocessed in DataLoader worker processes so the
encoder, not PNG decoding, is the bottleneck; undecodable or oversized
images are skipped and reported, never fatal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from vitrina.indexer.bundle.chunks import ChunkResult, ChunkStore
from vitrina.indexer.catalogue.base import Item
from vitrina.schemas import Modality
from vitrina.training.images import DEFAULT_MAX_PIXELS

log = logging.getLogger("vitrina.indexer")



@dataclass
class EmbedResult:
    ids: list[str]
    vectors: np.ndarray
    skipped: dict[str, str] = field(default_factory=dict)
    chunks_reused: int = 0
    chunks_encoded: int = 0


def embeddable(items: Sequence[Item], modality: Modality) -> list[Item]:
    if modality is Modality.IMAGE:
        return [it for it in items if it.image_ref and not it.image_status]
    return [it for it in items if (it.text or it.title).strip()]


class _ImageDataset(Dataset):
    def __init__(self, items: Sequence[Item], preprocess, max_pixels: int):
        self.items = items
        self.preprocess = preprocess
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray | None, str | None]:
        from vitrina.training.images import load_image

        try:
            image = load_image(self.items[i].image_ref, max_pixels=self.max_pixels)
            return i, self.preprocess(image), None
        except Exception as exc:  # one bad file must not stop a collection build
            return i, None, f"{type(exc).__name__}: {exc}"


def _keep_list(batch: list[Any]) -> list[Any]:
    return batch


def _image_batches(items: Sequence[Item], encoder, batch_size: int, workers: int, max_pixels: int):
    loader = DataLoader(
        _ImageDataset(items, encoder.preprocess, max_pixels),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_keep_list,
        # Workers see only the decode work; the encoder keeps the main process's threads.
        persistent_workers=False,
    )
    for batch in loader:
        ok = [(i, px) for i, px, err in batch if err is None]
        failed = {items[i].id: err for i, _, err in batch if err is not None}
        vectors = encoder.encode_pixels(np.stack([px for _, px in ok])) if ok else np.zeros((0, encoder.dim), np.float32)
        yield [items[i].id for i, _ in ok], vectors, failed, len(batch)


def _text_batches(items: Sequence[Item], encoder, batch_size: int):
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        texts = [it.text or it.title for it in batch]
        yield [it.id for it in batch], encoder.encode(texts), {}, len(batch)


def _finished_chunks(store: ChunkStore, chunks: list[list[Item]]) -> dict[int, ChunkResult]:
    """Chunks an interrupted build of the same key already encoded, by chunk number."""
    results: dict[int, ChunkResult] = {}
    for index, chunk in enumerate(chunks):
        done = store.load(index, [it.id for it in chunk])
        if done is not None:
            results[index] = done
    return results


def embed_items(
    items: Sequence[Item],
    encoder,
    store: ChunkStore,
    chunk_size: int = 512,
    batch_size: int = 32,
    workers: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
    desc: str = "embed",
) -> EmbedResult:
    """Encode `items` (already filtered to the encoder's modality) chunk by chunk."""
    chunks = [list(items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]
    results = _finished_chunks(store, chunks)
    pending = [i for i in range(len(chunks)) if i not in results]
    reused = len(results)
    if reused:
        log.info("resuming from finished chunks", extra={"space": desc, "chunks_reused": reused, "chunks_pending": len(pending)})

    flat = [it for i in pending for it in chunks[i]]
    bar = tqdm(total=len(items), initial=len(items) - len(flat), desc=desc, unit="item", disable=not progress)
    if encoder.modality is Modality.IMAGE:
        batches = _image_batches(flat, encoder, batch_size, workers, max_pixels)
    else:
        # Whole chunks per call: the encoder sorts them by length, so far less
        # compute goes to padding than with small batches in catalogue order.
        batches = _text_batches(flat, encoder, chunk_size)

    cursor = iter(pending)
    current = next(cursor, None)
    buffer = ChunkResult([], np.zeros((0, encoder.dim), np.float32), {})
    seen = 0
    with torch.inference_mode():
        for ids, vectors, failed, count in batches:
            buffer.ids.extend(ids)
            buffer.vectors = np.concatenate([buffer.vectors, vectors])
            buffer.skipped.update(failed)
            seen += count
            bar.update(count)
            # Batches never straddle chunks only by luck, so split on item counts.
            while current is not None and seen >= len(chunks[current]):
                expected = [it.id for it in chunks[current]]
                expected_set = set(expected)
                take = sum(1 for i in buffer.ids if i in expected_set)
                result = ChunkResult(buffer.ids[:take], buffer.vectors[:take], {k: v for k, v in buffer.skipped.items() if k in expected_set})
                store.save(current, expected, result)
                results[current] = result
                buffer = ChunkResult(buffer.ids[take:], buffer.vectors[take:], {k: v for k, v in buffer.skipped.items() if k not in expected_set})
                seen -= len(expected)
                current = next(cursor, None)
    bar.close()

    ordered = [results[i] for i in range(len(chunks))]
    ids = [i for r in ordered for i in r.ids]
    vectors = np.concatenate([r.vectors for r in ordered]) if ordered else np.zeros((0, encoder.dim), np.float32)
    skipped = {k: v for r in ordered for k, v in r.skipped.items()}
    return EmbedResult(ids, vectors.astype(np.float32, copy=False), skipped, reused, len(pending))
