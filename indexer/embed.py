"""Batch embedding of one space, chunked and resumable.

Items are cut into fixed chunks; a chunk is the unit that is saved (one part file), resumed
and, with `--engine ray`, handed to a worker. Each chunk is encoded the same way wherever it
runs: image batches start at the chunk's first item and never straddle chunks, and a text
chunk goes to the encoder whole. That is what makes a Ray build bit-identical to a local one.

Images are decoded and preprocessed in DataLoader worker processes so the encoder, not PNG
decoding, is the bottleneck; undecodable or oversized images are skipped and reported, never
fatal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from vitrina.indexer.bundle.chunks import ChunkResult, ChunkStore, chunk_key
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


@dataclass(frozen=True)
class EmbedSettings:
    """How chunks are encoded: the same for every engine."""

    batch_size: int = 32
    workers: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS


def embeddable(items: Sequence[Item], modality: Modality) -> list[Item]:
    if modality is Modality.IMAGE:
        return [it for it in items if it.image_ref and not it.image_status]
    return [it for it in items if encoded_text(it).strip()]


def encoded_text(item: Item) -> str:
    """What a text encoder sees of an item (its embedding, its word attributions)."""
    return item.text or item.title


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


def chunk_batches(sizes: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of positions over consecutive chunks of `sizes`, each restarting at a chunk's start."""
    batches, start = [], 0
    for size in sizes:
        batches += [list(range(b, min(b + batch_size, start + size))) for b in range(start, start + size, batch_size)]
        start += size
    return batches


def _image_batches(chunks: Sequence[Sequence[Item]], encoder, settings: EmbedSettings):
    items = [it for chunk in chunks for it in chunk]
    loader = DataLoader(
        _ImageDataset(items, encoder.preprocess, settings.max_pixels),
        batch_sampler=chunk_batches([len(c) for c in chunks], settings.batch_size),
        num_workers=settings.workers,
        collate_fn=_keep_list,
        # Workers see only the decode work; the encoder keeps the main process's threads.
        persistent_workers=False,
    )
    for batch in loader:
        ok = [(i, px) for i, px, err in batch if err is None]
        failed = {items[i].id: err for i, _, err in batch if err is not None}
        vectors = encoder.encode_pixels(np.stack([px for _, px in ok])) if ok else np.zeros((0, encoder.dim), np.float32)
        yield [items[i].id for i, _ in ok], vectors, failed, len(batch)


def _text_batches(chunks: Sequence[Sequence[Item]], encoder):
    # Whole chunks per call: the encoder sorts them by length, so far less compute goes to
    # padding than with small batches in catalogue order.
    for chunk in chunks:
        yield [it.id for it in chunk], encoder.encode([encoded_text(it) for it in chunk]), {}, len(chunk)


def encode_chunks(chunks: Sequence[Sequence[Item]], encoder, settings: EmbedSettings,
                  on_items: Callable[[int], None] = lambda n: None) -> Iterator[ChunkResult]:
    """One ChunkResult per chunk, in order. Batches never straddle chunks, so a chunk's vectors
    do not depend on which other chunks were encoded with it."""
    if encoder.modality is Modality.IMAGE:
        batches = _image_batches(chunks, encoder, settings)
    else:
        batches = _text_batches(chunks, encoder)
    pending = iter(chunks)
    chunk = next(pending, None)
    buffer = ChunkResult([], np.zeros((0, encoder.dim), np.float32), {})
    seen = 0
    with torch.inference_mode():
        for ids, vectors, failed, count in batches:
            buffer.ids.extend(ids)
            buffer.vectors = np.concatenate([buffer.vectors, vectors])
            buffer.skipped.update(failed)
            seen += count
            on_items(count)
            while chunk is not None and seen >= len(chunk):
                yield buffer
                buffer = ChunkResult([], np.zeros((0, encoder.dim), np.float32), {})
                seen -= len(chunk)
                chunk = next(pending, None)


def split_chunks(items: Sequence[Item], chunk_size: int) -> list[list[Item]]:
    return [list(items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]


def _finished_chunks(store: ChunkStore, chunks: list[list[Item]]) -> dict[int, ChunkResult]:
    """Chunks an interrupted build already encoded (same items, content and encoder), by chunk number."""
    results: dict[int, ChunkResult] = {}
    for index, chunk in enumerate(chunks):
        done = store.load(chunk_key(chunk))
        if done is not None:
            results[index] = done
    return results


def encode_locally(pending: dict[int, list[Item]], encoder, store: ChunkStore, settings: EmbedSettings,
                   bar: tqdm) -> dict[int, ChunkResult]:
    """The local engine: this process encodes the pending chunks and saves each as it finishes."""
    results = {}
    for index, result in zip(pending, encode_chunks(list(pending.values()), encoder, settings, bar.update)):
        store.save(chunk_key(pending[index]), result)
        results[index] = result
    return results


def embed_items(
    items: Sequence[Item],
    encoder,
    store: ChunkStore,
    chunk_size: int = 512,
    settings: EmbedSettings = EmbedSettings(),
    progress: bool = True,
    desc: str = "embed",
    engine: Callable[..., dict[int, ChunkResult]] = encode_locally,
) -> EmbedResult:
    """Encode `items` (already filtered to the encoder's modality) chunk by chunk.

    `engine(pending, encoder, store, settings, bar)` encodes the chunks no earlier run
    finished, saving each to `store`; it returns them by chunk number."""
    chunks = split_chunks(items, chunk_size)
    results = _finished_chunks(store, chunks)
    pending = {i: chunks[i] for i in range(len(chunks)) if i not in results}
    reused = len(results)
    if reused:
        log.info("resuming from finished chunks", extra={"space": desc, "chunks_reused": reused, "chunks_pending": len(pending)})

    todo = sum(len(c) for c in pending.values())
    bar = tqdm(total=len(items), initial=len(items) - todo, desc=desc, unit="item", disable=not progress)
    if pending:
        results.update(engine(pending, encoder, store, settings, bar))
    bar.close()

    ordered = [results[i] for i in range(len(chunks))]
    ids = [i for r in ordered for i in r.ids]
    vectors = np.concatenate([r.vectors for r in ordered]) if ordered else np.zeros((0, encoder.dim), np.float32)
    skipped = {k: v for r in ordered for k, v in r.skipped.items()}
    return EmbedResult(ids, vectors.astype(np.float32, copy=False), skipped, reused, len(pending))
