"""(picture, text) pairs of a collection as frozen feature rows, and their split by picture.

Items whose image vectors are identical (cosine >= the threshold; openclipart files one PNG
under several categories) form one picture group and always land in the same part of a split,
so no held-out picture was seen in training.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vitrina.training.data.splits import group_stratified_split


@dataclass
class PairedFeatures:
    """Rows are items with both an image and a text vector. `labels[:, 0]` is the picture
    group (identical images share it), `labels[:, 1]` the identical-text group."""

    ids: list[str]
    image: np.ndarray
    text: np.ndarray
    labels: np.ndarray
    strata: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: np.ndarray) -> "PairedFeatures":
        return PairedFeatures([self.ids[r] for r in rows], self.image[rows], self.text[rows], self.labels[rows], self.strata[rows])

    @property
    def strict_labels(self) -> np.ndarray:
        return np.arange(len(self.ids))


def duplicate_groups(vectors: np.ndarray, threshold: float, chunk_size: int = 1024) -> np.ndarray:
    """Connected components of "cosine >= threshold" (union-find), as ints 0..groups-1 in first-seen order."""
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    parent = np.arange(len(vectors))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(vectors), chunk_size):
        block = vectors[start:start + chunk_size] @ vectors.T
        rows, cols = np.nonzero(block >= threshold)
        for r, c in zip(rows + start, cols):
            if c > r:
                a, b = root(int(r)), root(int(c))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots = np.array([root(i) for i in range(len(vectors))])
    _, first_seen_codes = np.unique(roots, return_inverse=True)
    return first_seen_codes.astype(np.int64)


def build_pairs(ids: Sequence[str], image: np.ndarray, text: np.ndarray, texts: Sequence[str],
                strata: Sequence[str | None], duplicate_threshold: float) -> PairedFeatures:
    _, text_groups = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
    labels = np.stack([duplicate_groups(image, duplicate_threshold), text_groups.astype(np.int64)], axis=1)
    _, strata_codes = np.unique(np.asarray([s or "" for s in strata], dtype=object).astype(str), return_inverse=True)
    return PairedFeatures(list(ids), np.asarray(image, np.float32), np.asarray(text, np.float32), labels, strata_codes)


@dataclass
class Split:
    train: np.ndarray
    validation: np.ndarray
    heldout: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "heldout": len(self.heldout)}


def split_by_picture(pairs: PairedFeatures, heldout: float, validation: float, seed: int) -> Split:
    picture = [str(g) for g in pairs.labels[:, 0]]
    held, val, train = group_stratified_split(pairs.strata, picture, [heldout, validation], seed=seed)
    return Split(train, val, held)
