"""What one training step of each text recipe looks at: batches in, losses out.

A task owns the model and the loss and exposes `batches(epoch)` and
`training_forward(batch) -> (losses, report)`, so the loop in recipes/text.py has
no method-specific branch (open_clip's task pattern). Batches are drawn from a
generator seeded by (seed, epoch): a run is reproducible, and each epoch pairs
anchors with new positives and negatives.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch
from torch import nn

from vitrina.training.data.text_views import ItemViews
from vitrina.training.recipes.text_model import MeanPooledTextModel


class TextTask(Protocol):
    model: MeanPooledTextModel
    loss: nn.Module

    def batches(self, epoch: int) -> list: ...

    def training_forward(self, batch) -> tuple[dict[str, torch.Tensor], dict[str, float]]: ...


def unique_sentences(items: Sequence[ItemViews]) -> list[str]:
    """Every view once (case-insensitively): a repeated sentence in one batch would be its own negative."""
    seen: set[str] = set()
    out = []
    for item in items:
        for text in item.views.values():
            key = text.casefold()
            if key not in seen:
                seen.add(key)
                out.append(text)
    return out


class SimCseTask:
    """Unsupervised SimCSE: a batch of sentences encoded twice; dropout makes the two copies differ.

    Both copies go through the model in one forward pass: each row gets its own
    dropout mask, so this equals two passes and costs one.
    """

    def __init__(self, model: MeanPooledTextModel, loss: nn.Module, sentences: Sequence[str], batch_size: int, seed: int):
        if len(sentences) < 2:
            raise ValueError(f"sentences: SimCSE needs at least 2 training sentences, got {len(sentences)}")
        self.model = model
        self.loss = loss
        self.sentences = list(sentences)
        self.batch_size = batch_size
        self.seed = seed

    def batches(self, epoch: int) -> list[list[str]]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.sentences))
        batches = [[self.sentences[i] for i in order[s:s + self.batch_size]] for s in range(0, len(order), self.batch_size)]
        # A one-sentence batch has no negatives.
        return [b for b in batches if len(b) >= 2]

    def training_forward(self, batch: list[str]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        n = len(batch)
        embeddings = self.model(batch + batch)
        loss = self.loss(embeddings[:n], embeddings[n:])
        return {"loss": loss}, {"samples": 2 * n}


@dataclass(frozen=True)
class InfoNceExample:
    anchor: str
    positive: str
    negatives: tuple[str, ...]


class InfoNceTask:
    """Supervised InfoNCE: anchor = one view of an item, positive = another view of it,
    K negatives = random views of items from other categories (never a false negative
    by category)."""

    def __init__(self, model: MeanPooledTextModel, loss: nn.Module, items: Sequence[ItemViews], negatives: int,
                 batch_size: int, seed: int):
        self.model = model
        self.loss = loss
        self.batch_size = batch_size
        self.negatives = negatives
        self.seed = seed
        labelled = [it for it in items if it.category is not None]
        self.anchors = [i for i, it in enumerate(labelled) if len(it.views) >= 2]
        self.items = labelled
        codes = np.array([it.category for it in labelled], dtype=object)
        self._others = {c: np.flatnonzero(codes != c) for c in set(codes.tolist())}
        if not self.anchors:
            raise ValueError("items: InfoNCE needs items with a category and at least two views")
        too_few = [c for c, rows in self._others.items() if len(rows) < negatives]
        if too_few:
            raise ValueError(f"negatives: {negatives} negatives per anchor, but categories {too_few} have fewer items outside them")

    def examples(self, epoch: int) -> list[InfoNceExample]:
        rng = np.random.default_rng([self.seed, epoch])
        out = []
        for i in rng.permutation(self.anchors):
            item = self.items[i]
            first, second = rng.choice(len(item.kinds), size=2, replace=False)
            picks = rng.choice(self._others[item.category], size=self.negatives, replace=False)
            negatives = []
            for j in picks:
                other = self.items[j]
                negatives.append(other.views[other.kinds[rng.integers(len(other.kinds))]])
            out.append(InfoNceExample(item.views[item.kinds[first]], item.views[item.kinds[second]], tuple(negatives)))
        return out

    def batches(self, epoch: int) -> list[list[InfoNceExample]]:
        examples = self.examples(epoch)
        return [examples[s:s + self.batch_size] for s in range(0, len(examples), self.batch_size)]

    def training_forward(self, batch: list[InfoNceExample]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        n, k = len(batch), self.negatives
        texts = [e.anchor for e in batch] + [e.positive for e in batch] + [t for e in batch for t in e.negatives]
        embeddings = self.model(texts)
        anchors, positives = embeddings[:n], embeddings[n:2 * n]
        negatives = embeddings[2 * n:].reshape(n, k, -1)
        loss = self.loss(anchors, positives, negatives)
        return {"loss": loss}, {"samples": len(texts)}
