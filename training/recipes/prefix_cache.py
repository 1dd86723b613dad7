"""The frozen-prefix cache: the frozen part's output, computed once per (item, augmentation).

Fine-tuning EfficientNet-Lite0 end to end runs at ~15-25 images/s on two CPU
cores; with 80% of the blocks frozen, the prefix's output for a sample never
changes, so it is computed once (decode -> preprocess -> augment -> prefix)
and every epoch runs only the trainable suffix on the cached tensors.
Augmented copies are fixed ops (see `augment.py`), so they cache too.

Values are stored as float16 (post-activation maps and normalised pixels
lose nothing that matters for training, at half the memory). With a
`cache_dir` each sample is also written to disk under a namespace hashing
the encoder fingerprint, preprocessing and number of frozen blocks, so
later runs (other seeds, other attributes) skip the prefix entirely.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from vitrina.training.augment import AugmentOp, apply_augment
from vitrina.training.data.labelled_images import LabelledImages
from vitrina.training.encoders.fingerprint import canonical_json
from vitrina.training.images import ImageError
from vitrina.training.recipes.staged import StagedBackbone

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1


@dataclass(frozen=True)
class SampleRef:
    """One training or evaluation sample: a dataset row and the augmentation applied to it."""

    row: int
    op: AugmentOp


class FeatureCache:
    """Per-sample .npy files under <root>/<namespace hash>/; a no-op when root is None."""

    def __init__(self, root: str | Path | None, namespace: Mapping[str, Any]):
        payload = canonical_json({"format": CACHE_FORMAT, **namespace})
        self.key = hashlib.sha256(payload.encode()).hexdigest()[:20]
        self.folder = Path(root) / self.key if root is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            # The namespace in clear, so a cache folder can be identified and pruned by hand.
            (self.folder / "namespace.json").write_text(payload)

    def _path(self, sample_key: str) -> Path:
        digest = hashlib.sha256(sample_key.encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest[2:26]}.npy"

    def load(self, sample_key: str) -> np.ndarray | None:
        if self.folder is None:
            return None
        path = self._path(sample_key)
        if not path.exists():
            return None
        try:
            return np.load(path)
        except (OSError, ValueError):
            # A torn file from a killed run: recompute it.
            return None

    def save(self, sample_key: str, value: np.ndarray) -> None:
        if self.folder is None:
            return
        path = self._path(sample_key)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as stream:
            np.save(stream, value)
        os.replace(tmp, path)


def sample_key(dataset: LabelledImages, sample: SampleRef) -> str:
    return f"{dataset.ids[sample.row]}|{sample.op.key}"


class _PrefixOutputs:
    """Prefix outputs in sample order; preprocessed pixels wait in `pending` until a batch is full."""

    def __init__(self, dataset: LabelledImages, samples: Sequence[SampleRef], backbone: StagedBackbone, n_frozen: int,
                 cache: FeatureCache):
        self.dataset, self.samples, self.backbone, self.n_frozen, self.cache = dataset, samples, backbone, n_frozen, cache
        self.out: np.ndarray | None = None
        self.pending: list[tuple[int, np.ndarray]] = []
        self.bar: Any = None

    def put(self, i: int, value: np.ndarray) -> None:
        # Allocated at the first value, when the prefix's output shape is known.
        if self.out is None:
            self.out = np.zeros((len(self.samples), *value.shape), dtype=np.float16)
        self.out[i] = value

    def load_cached(self) -> list[int]:
        """Fill what the cache holds; the sample indices still to compute."""
        todo = []
        for i, sample in enumerate(self.samples):
            value = self.cache.load(sample_key(self.dataset, sample))
            if value is None:
                todo.append(i)
            else:
                self.put(i, value)
        return todo

    def flush(self) -> None:
        if not self.pending:
            return
        pixels = torch.from_numpy(np.stack([p for _, p in self.pending])).to(next(self.backbone.parameters()).device)
        with torch.inference_mode():
            out = self.backbone.prefix(pixels, self.n_frozen).float().cpu().numpy().astype(np.float16)
        for (i, _), value in zip(self.pending, out):
            self.put(i, value)
            self.cache.save(sample_key(self.dataset, self.samples[i]), value)
        self.bar.update(len(self.pending))
        self.pending.clear()


def materialise_prefix(
    dataset: LabelledImages,
    samples: Sequence[SampleRef],
    preprocess: Callable,
    backbone: StagedBackbone,
    n_frozen: int,
    cache: FeatureCache,
    batch_size: int = 32,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(float16 [n, ...] frozen-prefix outputs, bool [n] valid) for `samples`.

    Samples whose image cannot be decoded are marked invalid (and logged)
    instead of failing a run of thousands of items; their rows are zeros.
    """
    started = time.perf_counter()
    outputs = _PrefixOutputs(dataset, samples, backbone, n_frozen, cache)
    valid = np.ones(len(samples), dtype=bool)
    todo = outputs.load_cached()
    outputs.bar = tqdm(total=len(todo), desc="frozen prefix", unit="img", disable=not progress or not todo, leave=False)
    # Copies of one item sit together, so each image is decoded once for all of them.
    for row, group in groupby(sorted(todo, key=lambda i: samples[i].row), key=lambda i: samples[i].row):
        indices = list(group)
        try:
            base = preprocess(dataset.image(row))
        except (ImageError, FileNotFoundError) as exc:
            logger.warning("skipping an unreadable image", extra={"item": dataset.ids[row], "error": str(exc)})
            valid[indices] = False
            outputs.bar.update(len(indices))
            continue
        for i in indices:
            op = samples[i].op
            outputs.pending.append((i, base if op.is_identity else apply_augment(base, op)))
        if len(outputs.pending) >= batch_size:
            outputs.flush()
    outputs.flush()
    outputs.bar.close()
    computed = int(valid[todo].sum()) if todo else 0
    seconds = time.perf_counter() - started
    logger.info("frozen prefix ready", extra={
        "samples": len(samples), "from_cache": len(samples) - len(todo), "computed": computed,
        "invalid": int((~valid).sum()), "seconds": round(seconds, 1),
        "samples_per_s": round(computed / seconds, 1) if computed and seconds > 0 else None})
    if outputs.out is None:
        raise ValueError(f"{dataset.source}: none of the {len(samples)} images could be decoded")
    return outputs.out, valid
