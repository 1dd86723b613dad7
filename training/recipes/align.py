"""`vitrina train align`: a joint text<->image space from the catalogue's own (image, text) pairs.

Projection heads (linear, or an MLP with a linear skip) are trained on *frozen*
image and text features with the symmetric CLIP loss (learnable temperature),
AdamW and a cosine schedule. Features are computed once (training/features.py),
so an epoch over 8k pairs takes about a second on 2 cores.

Evaluation is kept honest in three ways:
- Items are split by *picture*: items whose image vectors are identical (cosine
  >= `duplicate_threshold`; openclipart files one PNG under several categories)
  always land in the same part, so no held-out picture was seen in training.
- Early stopping and the choice of head use a validation part carved from the
  training items; the held-out part is only ever scored once per run.
- Scores come twice: "strict" (only the item's own image/text is correct; an
  identical copy of it ranked first counts as a miss) and "dedup" (any item with
  the same picture or the identical text is correct).
The baseline is a ridge regression mapping image features onto the text
encoder's embeddings (alpha picked on the validation part).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from vitrina.schemas import Modality
from vitrina.training.checkpoint import TowerRecord, save_joint_checkpoint
from vitrina.training.data.paired_features import PairedFeatures, Split, build_pairs, split_by_picture
from vitrina.training.recipes.align_scores import PRIMARY, evaluate_pairs, primary_score, ridge_baseline
from vitrina.training.encoders.base import Encoder
from vitrina.training.features import current_version_dir, load_frozen_features, read_items
from vitrina.training.heads import HEAD_KINDS
from vitrina.training.recipes.align_task import FittedHeads, fit_heads
from vitrina.schemas.errors import FieldError

log = logging.getLogger("vitrina.training.align")



class AlignConfigError(FieldError):
    """An align option with an unusable value; names the option."""


@dataclass(frozen=True)
class AlignConfig:
    heldout: float = field(default=0.2, metadata={"help": "Fraction of pictures held out for the reported scores"})
    validation: float = field(default=0.1, metadata={"help": "Fraction of pictures for early stopping and head choice"})
    epochs: int = field(default=100, metadata={"help": "Upper bound; early stopping usually ends sooner"})
    patience: int = field(default=10, metadata={"help": "Epochs without a better validation recall@10 before stopping"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW peak learning rate (cosine decay, 1 warm-up epoch)"})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay (not on biases or the temperature)"})
    batch_size: int = field(default=512, metadata={"help": "Pairs per step; each pair has batch_size - 1 negatives"})
    dim: int = field(default=256, metadata={"help": "Joint space dimension"})
    heads: tuple[str, ...] = field(default=HEAD_KINDS, metadata={"help": "Head kinds to try (linear, mlp); the best on validation wins"})
    hidden_dim: int = field(default=1024, metadata={"help": "MLP head hidden width"})
    dropout: float = field(default=0.1, metadata={"help": "MLP head dropout"})
    init_temperature: float = field(default=0.07, metadata={"help": "Initial softmax temperature (learned)"})
    seed: int = field(default=0, metadata={"help": "First seed: split, initialisation and batch order"})
    seeds: int = field(default=1, metadata={"help": "Runs with seeds seed, seed+1, ...; reported as mean ± std"})
    duplicate_threshold: float = field(default=0.9999, metadata={"help": "Image-vector cosine above which two items show the same picture"})
    stratify_by: str | None = field(default="category", metadata={"help": "Metadata field the split is stratified by (none: no stratification)"})
    ridge_alphas: tuple[float, ...] = field(default=(0.1, 1.0, 10.0), metadata={"help": "Ridge baseline alphas tried on validation"})
    ks: tuple[int, ...] = field(default=(1, 5, 10), metadata={"help": "Recall cut-offs"})
    log_every: int = field(default=5, metadata={"help": "Log loss, lr, samples/s and validation recall every N epochs"})

    def __post_init__(self) -> None:
        if not 0 < self.heldout < 1 or not 0 < self.validation < 1 or self.heldout + self.validation >= 0.9:
            raise AlignConfigError("heldout", f"heldout ({self.heldout}) and validation ({self.validation}) must be in (0, 1) and leave >= 10% for training")
        for name in ("epochs", "patience", "batch_size", "dim", "hidden_dim", "seeds", "log_every"):
            if getattr(self, name) <= 0:
                raise AlignConfigError(name, f"must be positive, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise AlignConfigError("batch_size", "needs at least 2 pairs: a single pair has no negatives")
        if not self.lr > 0 or self.weight_decay < 0:
            raise AlignConfigError("lr" if not self.lr > 0 else "weight_decay", "lr must be positive and weight_decay >= 0")
        unknown = [h for h in self.heads if h not in HEAD_KINDS]
        if not self.heads or unknown:
            raise AlignConfigError("heads", f"choose from {', '.join(HEAD_KINDS)}, got {list(self.heads)}")
        if not 0 < self.duplicate_threshold <= 1:
            raise AlignConfigError("duplicate_threshold", f"must be in (0, 1], got {self.duplicate_threshold}")
        if not self.ks or min(self.ks) <= 0:
            raise AlignConfigError("ks", f"give positive cut-offs, got {list(self.ks)}")


# ---------------------------------------------------------------- one seed, many seeds


@dataclass
class SeedRun:
    seed: int
    split: Split
    selected: str
    fitted: dict[str, FittedHeads]
    heldout: dict[str, dict[str, Any]]  # head kind -> evaluate_pairs report on the held-out part
    baseline: dict[str, Any]

    @property
    def best(self) -> FittedHeads:
        return self.fitted[self.selected]

    def report(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "split": self.split.sizes(),
            "selected_head": self.selected,
            "heads": {
                kind: {"best_epoch": f.best_epoch, "epochs_run": f.epochs_run, "validation_recall@10": f.best_validation,
                       "seconds_per_epoch": f.seconds_per_epoch, "samples_per_second": f.samples_per_second,
                       "temperature": f.task.loss.temperature, "heldout": self.heldout[kind]}
                for kind, f in self.fitted.items()
            },
            "ridge": self.baseline,
        }


def run_seed(pairs: PairedFeatures, config: AlignConfig, seed: int) -> SeedRun:
    split = split_by_picture(pairs, config.heldout, config.validation, seed)
    train, validation, heldout = pairs.subset(split.train), pairs.subset(split.validation), pairs.subset(split.heldout)
    log.info("align split", extra={"seed": seed, **split.sizes(), "pictures": int(len(np.unique(pairs.labels[:, 0])))})
    fitted = {kind: fit_heads(train, validation, kind, config, seed) for kind in config.heads}
    # Ties go to the earlier (simpler) kind in config.heads.
    selected = max(config.heads, key=lambda k: (fitted[k].best_validation, -config.heads.index(k)))
    scores = {kind: evaluate_pairs(*f.task.embed(heldout), heldout, config.ks) for kind, f in fitted.items()}
    baseline = ridge_baseline(train, validation, heldout, config)
    log.info("align seed done", extra={"seed": seed, "selected": selected,
                                       "heldout_t2i_recall@10": round(primary_score(scores[selected]), 4),
                                       "ridge_t2i_recall@10": round(primary_score(baseline["heldout"]), 4)})
    return SeedRun(seed, split, selected, fitted, scores, baseline)


def summarise_runs(runs: Sequence[SeedRun]) -> dict[str, Any]:
    """mean/std over seeds of every held-out metric, for the selected head, each head kind and the ridge."""
    reports: dict[str, list[dict[str, Any]]] = {"selected": [r.heldout[r.selected] for r in runs], "ridge": [r.baseline["heldout"] for r in runs]}
    for kind in runs[0].fitted:
        reports[kind] = [r.heldout[kind] for r in runs]
    summary: dict[str, Any] = {}
    for model, per_seed in reports.items():
        summary[model] = {
            scoring: {direction: {metric: _mean_std([p[scoring][direction][metric] for p in per_seed])
                                  for metric in per_seed[0][scoring][direction]}
                      for direction in per_seed[0][scoring]}
            for scoring in per_seed[0]
        }
    summary["seconds_per_epoch"] = {kind: _mean_std([r.fitted[kind].seconds_per_epoch for r in runs]) for kind in runs[0].fitted}
    summary["selected_heads"] = [r.selected for r in runs]
    return summary


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0}


# ---------------------------------------------------------------- from a bundle to a checkpoint


@dataclass
class AlignResult:
    checkpoint: Path
    report: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.report, indent=2, sort_keys=True, default=str)


def load_pairs(bundle: str | Path, image_encoder: Encoder, text_encoder: Encoder, config: AlignConfig,
               cache_dir: str | Path | None = None, version: str | None = None) -> tuple[PairedFeatures, dict[str, Any]]:
    """Items of the bundle's current version with both vectors, grouped by picture and text."""
    version_dir = current_version_dir(bundle, version)
    items = read_items(version_dir).to_pylist()
    ids = [row["id"] for row in items]
    image = load_frozen_features(version_dir, ids, image_encoder, cache_dir)
    text = load_frozen_features(version_dir, ids, text_encoder, cache_dir)
    with_text = dict(zip(text.ids, text.vectors))
    rows = [r for r, i in enumerate(image.ids) if i in with_text]
    paired_ids = [image.ids[r] for r in rows]
    by_id = {row["id"]: row for row in items}
    strata = [_metadata_value(by_id[i].get("metadata"), config.stratify_by) for i in paired_ids]
    pairs = build_pairs(paired_ids, image.vectors[rows], np.stack([with_text[i] for i in paired_ids]),
                        [by_id[i]["text"] or "" for i in paired_ids], strata, config.duplicate_threshold)
    facts = {"bundle": str(bundle), "version": version_dir.name, "items": len(items), "pairs": len(pairs),
             "pictures": int(len(np.unique(pairs.labels[:, 0]))), "distinct_texts": int(len(np.unique(pairs.labels[:, 1]))),
             "without_image_vector": len(image.missing), "without_text_vector": len(text.missing),
             "feature_sources": {"image": image.sources, "text": text.sources}}
    return pairs, facts


def train_align(
    bundle: str | Path,
    out: str | Path,
    image_spec: str = "builtin:efficientnet-lite0",
    text_spec: str = "builtin:minilm-l6",
    config: AlignConfig | None = None,
    cache_dir: str | Path | None = None,
    encoder_factory: Callable[..., Encoder] | None = None,
) -> AlignResult:
    """Train on `bundle` (<root>/<collection>), write the best run's checkpoint to `out`."""
    config = config or AlignConfig()
    if encoder_factory is None:
        from vitrina.training.encoders import create_encoder as encoder_factory
    started = time.perf_counter()
    image_encoder = encoder_factory(image_spec, modality=Modality.IMAGE)
    text_encoder = encoder_factory(text_spec, modality=Modality.TEXT)
    pairs, facts = load_pairs(bundle, image_encoder, text_encoder, config, cache_dir)
    if len(pairs) < 20:
        raise AlignConfigError("bundle", f"only {len(pairs)} items have both an image and a text vector; need at least 20")
    runs = [run_seed(pairs, config, config.seed + offset) for offset in range(config.seeds)]
    best_run = max(runs, key=lambda r: r.best.best_validation)
    report = {
        "recipe": "align",
        "config": asdict(config),
        "data": facts,
        "encoders": {"image": {"spec": image_spec, "fingerprint": image_encoder.fingerprint},
                     "text": {"spec": text_spec, "fingerprint": text_encoder.fingerprint}},
        "primary_metric": "/".join(PRIMARY),
        "checkpoint_seed": best_run.seed,
        "checkpoint_heldout": best_run.heldout[best_run.selected],
        "summary": summarise_runs(runs),
        "runs": [r.report() for r in runs],
        "seconds": round(time.perf_counter() - started, 1),
    }
    task = best_run.best.task
    towers = {
        Modality.IMAGE: TowerRecord(image_spec, image_encoder.fingerprint, task.image_config),
        Modality.TEXT: TowerRecord(text_spec, text_encoder.fingerprint, task.text_config),
    }
    heldout_ids = [pairs.ids[r] for r in best_run.split.heldout]
    path = save_joint_checkpoint(out, towers, {Modality.IMAGE: task.image_head, Modality.TEXT: task.text_head},
                                 training=report, heldout_ids=heldout_ids)
    return AlignResult(path, report)


def _metadata_value(metadata: str | None, name: str | None) -> str | None:
    if not name or not metadata:
        return None
    try:
        value = json.loads(metadata).get(name)
    except (json.JSONDecodeError, AttributeError):
        return None
    return None if value is None else str(value)
