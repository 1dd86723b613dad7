"""The museum recipe: supervised multi-head fine-tuning of an image encoder, then heads dropped.

    train set --(group split)--> fit rows + validation rows
    fit rows  --(rebalance plan per seed: drop / undersample / augment)--> samples
    samples, validation, test --(frozen prefix, once)--> cached tensors
    per seed: suffix + one linear head per attribute, loss = sum_h w_h * CE_h(class weights),
              Adam + weight decay, early stopping on validation loss
    report:   baseline (linear probe on the pretrained pooled features) vs fine-tuned,
              per head, overall and on retained classes, mean ± std over seeds

The backbone of the seed with the best monitored validation value is kept as the
result's encoder; `backbone_ckpt.save_backbone_checkpoint` writes it.
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import torch

from vitrina.schemas import Modality
from vitrina.training.augment import IDENTITY, AugmentConfig, AugmentOp, draw_augment
from vitrina.training.data.labelled_images import LabelledImages
from vitrina.training.data.splits import group_stratified_split
from vitrina.training.encoders.factory import create_encoder
from vitrina.training.encoders.pixels import LetterboxNormalise
from vitrina.training.encoders.torch_base import TorchImageEncoder
from vitrina.training.rebalance import (
    MISSING,
    REBALANCE_PRESETS,
    RebalanceConfig,
    class_counts,
    class_weights,
    plan_rebalance,
    select_classes,
)
from vitrina.training.recipes.classify_metrics import classification_metrics, classify_report, neighbour_precision
from vitrina.training.recipes.classify_task import ClassifyTask, FitConfig, FitResult, HeadSpec, MultiHeadClassifier, evaluate, fit
from vitrina.training.recipes.linear_probe import fit_linear_probe
from vitrina.training.recipes.prefix_cache import FeatureCache, SampleRef, materialise_prefix
from vitrina.training.recipes.staged import StagedBackbone, stage_encoder
from vitrina.schemas.errors import FieldError

logger = logging.getLogger(__name__)


class ClassifyConfigError(FieldError):
    """An option of the classify recipe that cannot work; names the field."""

    scope = "classify."


@dataclass(frozen=True)
class ClassifyConfig:
    heads: tuple[HeadSpec, ...]
    """One head per attribute; the first is the primary one that rebalancing and the split stratify on."""
    encoder: str = "builtin:efficientnet-lite0"
    freeze_percent: float = 80.0
    """Share of the backbone's blocks kept frozen (0, 50, 80 in the research); their output is cached."""
    image_size: int | None = None
    """Input side in pixels instead of the encoder's own (letterbox encoders only; a multiple of 32)."""
    seeds: tuple[int, ...] = (0,)
    rebalance: RebalanceConfig = REBALANCE_PRESETS["moderate"]
    augment: AugmentConfig = AugmentConfig()
    augment_seed: int = 0
    """Seeds the augmentation ops; fixed across training seeds so augmented copies cache once."""
    fit: FitConfig = FitConfig()
    val_fraction: float = 0.1
    split_seed: int = 0
    baseline: bool = True
    """Report the linear probe on the pretrained features next to the fine-tuned model."""
    head_init: str = "probe"
    """"probe": heads start as the linear probe (linear probe, then fine-tune); "random": a fresh nn.Linear."""
    neighbours_k: int = 5
    cache_dir: str | None = None
    """Keep frozen-prefix outputs on disk here, shared by later runs (None: memory only)."""
    prefix_batch_size: int = 32
    device: str | None = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.heads:
            raise ClassifyConfigError("heads", "name at least one attribute")
        names = [h.attribute for h in self.heads]
        if len(set(names)) != len(names):
            raise ClassifyConfigError("heads", f"attributes repeat: {names}")
        if not 0 <= self.freeze_percent <= 100:
            raise ClassifyConfigError("freeze_percent", f"must be in [0, 100], got {self.freeze_percent}")
        if self.image_size is not None and (self.image_size < 32 or self.image_size % 32):
            # EfficientNet's TF-style static padding matches its 224 px layout only when every stride-2 input is even.
            raise ClassifyConfigError("image_size", f"must be a multiple of 32 (>= 32), got {self.image_size}")
        if not self.seeds:
            raise ClassifyConfigError("seeds", "give at least one seed")
        if self.head_init not in ("probe", "random"):
            raise ClassifyConfigError("head_init", f"must be 'probe' or 'random', got {self.head_init!r}")
        if not 0 < self.val_fraction < 0.5:
            raise ClassifyConfigError("val_fraction", f"must be in (0, 0.5), got {self.val_fraction}")

    @property
    def primary(self) -> str:
        return self.heads[0].attribute

    def describe(self) -> dict:
        return {**asdict(self), "heads": [asdict(h) for h in self.heads]}


@dataclass
class ClassifyResult:
    report: dict
    encoder: TorchImageEncoder
    """The fine-tuned encoder (best seed), heads dropped."""
    preprocess: Any | None = None
    """The preprocessing used when it differs from the encoder spec's own (record it in the checkpoint)."""
    history: dict[int, list[dict]] = field(default_factory=dict)


def resolve_preprocess(encoder: TorchImageEncoder, image_size: int | None) -> tuple[Any, Any | None]:
    """(preprocess to use, the override to record or None)."""
    if image_size is None:
        return encoder.preprocess, None
    if isinstance(encoder.preprocess, LetterboxNormalise):
        override = replace(encoder.preprocess, size=image_size)
        return override, override
    raise ClassifyConfigError(
        "image_size", f"{encoder.spec} uses its own image processor; only letterbox encoders (builtin:efficientnet-lite0) can change size"
    )


@dataclass
class _HeadLabels:
    """Per head: kept original codes (head output i <-> kept[i]) and the code -> output map."""

    name: str
    kept: np.ndarray
    classes: tuple[str, ...]

    def to_head(self, codes: np.ndarray) -> np.ndarray:
        lookup = {int(c): i for i, c in enumerate(self.kept)}
        return np.array([lookup.get(int(c), MISSING) for c in codes], dtype=np.int64)

    def to_codes(self, outputs: np.ndarray) -> np.ndarray:
        return self.kept[outputs]


class _SampleIndex:
    """Unique (row, augmentation) samples, so copies shared by several seeds are computed once."""

    def __init__(self) -> None:
        self.samples: list[SampleRef] = []
        self._index: dict[tuple[int, str], int] = {}

    def add(self, row: int, op: AugmentOp) -> int:
        key = (row, op.key)
        if key not in self._index:
            self._index[key] = len(self.samples)
            self.samples.append(SampleRef(row, op))
        return self._index[key]


def _pooled(backbone: StagedBackbone, n_frozen: int, features: np.ndarray, batch_size: int = 256) -> np.ndarray:
    backbone.train_suffix(False, n_frozen)
    device = next(backbone.parameters()).device
    parts = []
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            x = torch.from_numpy(features[start : start + batch_size].astype(np.float32)).to(device)
            parts.append(backbone.suffix(x, n_frozen).float().cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, backbone.dim), dtype=np.float32)


def _check_dataset(dataset: LabelledImages, heads: tuple[HeadSpec, ...], role: str) -> None:
    for head in heads:
        try:
            dataset.attribute(head.attribute)
        except ValueError as exc:
            raise ClassifyConfigError("heads", f"{role} set: {exc}") from None


@dataclass
class _Inputs:
    """What every seed shares: kept classes per head, frozen-prefix tensors, labels and pretrained features."""

    heads: dict[str, _HeadLabels]
    plans: dict[int, Any]
    fit_rows: np.ndarray
    index: _SampleIndex
    seed_samples: dict[int, np.ndarray]
    val_samples: np.ndarray
    train_x: np.ndarray
    train_valid: np.ndarray
    train_head: dict[str, np.ndarray]
    test_x: np.ndarray
    test_codes: dict[str, np.ndarray]
    test_head: dict[str, np.ndarray]
    prefix_seconds: float

    @cached_property
    def val_labels(self) -> dict[str, np.ndarray]:
        return {name: y[self.val_samples] for name, y in self.train_head.items()}

    def seed_rows(self, seed: int) -> np.ndarray:
        samples = self.seed_samples[seed]
        return samples[self.train_valid[samples]]


def _plan_heads(train_set: LabelledImages, config: ClassifyConfig) -> tuple[np.ndarray, np.ndarray, dict, dict[str, _HeadLabels]]:
    """(validation rows, fit rows, rebalance plan per seed, kept classes per head)."""
    primary = config.primary
    # Validation groups are carved out per primary class, so early stopping sees every class.
    val_rows, fit_rows = group_stratified_split(train_set.codes(primary), train_set.groups, [config.val_fraction], config.split_seed)
    fit_primary = train_set.codes(primary)[fit_rows]
    plans = {seed: plan_rebalance(fit_primary, config.rebalance, seed) for seed in config.seeds}
    heads = {primary: _HeadLabels(primary, plans[config.seeds[0]].kept_classes, train_set.attribute(primary).classes)}
    for head in config.heads[1:]:
        counts = class_counts(train_set.codes(head.attribute)[fit_rows])
        kept = select_classes(counts, config.rebalance.min_count, config.rebalance.min_quantile)
        heads[head.attribute] = _HeadLabels(head.attribute, kept, train_set.attribute(head.attribute).classes)
    for name, labels in heads.items():
        if len(labels.kept) < 2:
            raise ClassifyConfigError("heads", f"attribute {name!r} keeps {len(labels.kept)} class(es) after rebalancing; need 2+")
    return val_rows, fit_rows, plans, heads


def _prepare_inputs(train_set: LabelledImages, test_set: LabelledImages, config: ClassifyConfig, encoder: TorchImageEncoder,
                    backbone: StagedBackbone, n_frozen: int, preprocess: Any) -> _Inputs:
    val_rows, fit_rows, plans, heads = _plan_heads(train_set, config)
    # Every sample any seed trains on, plus validation: one frozen-prefix pass for all of them.
    index = _SampleIndex()
    seed_samples: dict[int, np.ndarray] = {}
    for seed, plan in plans.items():
        seed_samples[seed] = np.array([
            index.add(int(row), IDENTITY if copy == 0 else draw_augment(config.augment_seed, train_set.ids[row], int(copy), config.augment))
            for row, copy in zip(fit_rows[plan.rows], plan.copies)
        ], dtype=np.int64)
    val_samples = np.array([index.add(int(row), IDENTITY) for row in val_rows], dtype=np.int64)
    cache = FeatureCache(config.cache_dir, {
        "encoder": encoder.fingerprint, "preprocess": getattr(preprocess, "config", lambda: repr(preprocess))(),
        "n_frozen": n_frozen,
    })
    started = time.perf_counter()
    prefix = lambda dataset, samples: materialise_prefix(  # noqa: E731
        dataset, samples, preprocess, backbone, n_frozen, cache, config.prefix_batch_size, config.progress)
    train_x, train_valid = prefix(train_set, index.samples)
    test_x, test_valid = prefix(test_set, [SampleRef(i, IDENTITY) for i in range(len(test_set))])
    sample_rows = np.array([s.row for s in index.samples], dtype=np.int64)
    test_codes = {name: test_set.codes(name)[test_valid] for name in heads}
    return _Inputs(
        heads=heads, plans=plans, fit_rows=fit_rows, index=index, seed_samples=seed_samples,
        val_samples=val_samples[train_valid[val_samples]], train_x=train_x, train_valid=train_valid,
        train_head={name: h.to_head(train_set.codes(name)[sample_rows]) for name, h in heads.items()},
        test_x=test_x[test_valid], test_codes=test_codes,
        test_head={name: h.to_head(test_codes[name]) for name, h in heads.items()},
        prefix_seconds=time.perf_counter() - started,
    )


@dataclass
class _Pretrained:
    """The pretrained backbone's state and pooled features: every seed starts from them; the baseline is fitted on them."""

    state: dict
    train: np.ndarray | None
    test: np.ndarray
    neighbours: dict[str, float]


def _fit_probes(model: MultiHeadClassifier, inputs: _Inputs, pretrained: _Pretrained, samples: np.ndarray,
                fit_labels: dict[str, np.ndarray], weights: dict[str, np.ndarray], config: ClassifyConfig, seed: int) -> dict:
    """The linear probe per head on the pretrained features; with head_init "probe" the heads start from it."""
    probes = {}
    for i, name in enumerate(inputs.heads):
        sample_weight = np.where(fit_labels[name] >= 0, weights[name][np.maximum(fit_labels[name], 0)], 0.0)
        probes[name] = fit_linear_probe(pretrained.train[samples], fit_labels[name], sample_weight,
                                        pretrained.train[inputs.val_samples], inputs.val_labels[name], seed=seed)
        if config.head_init == "probe" and probes[name].model is not None:
            weight, bias = probes[name].as_linear(len(inputs.heads[name].kept))
            with torch.no_grad():
                model.heads[i].weight.copy_(torch.from_numpy(weight))
                model.heads[i].bias.copy_(torch.from_numpy(bias))
    return probes


def _score_heads(task: ClassifyTask, inputs: _Inputs, pretrained: _Pretrained, probes: dict, backbone: StagedBackbone,
                 config: ClassifyConfig) -> dict[str, dict]:
    """Per head on the test set: fine-tuned metrics, neighbour precision before/after, and the probe baseline."""
    logits, _ = evaluate(task, inputs.test_x, inputs.test_head)
    finetuned_test = _pooled(backbone, task.model.n_frozen, inputs.test_x)
    scores = {}
    for name, h in inputs.heads.items():
        # Items without a value for this attribute are not scored on it.
        scored = inputs.test_codes[name] != MISSING
        truth = inputs.test_codes[name][scored]
        entry = {
            "finetuned": classification_metrics(truth, h.to_codes(logits[name][scored].argmax(axis=1)), h.kept),
            "neighbour_precision": {"pretrained": pretrained.neighbours[name],
                                    "finetuned": neighbour_precision(finetuned_test, inputs.test_codes[name], config.neighbours_k)},
        }
        if config.baseline:
            probe = probes[name].predict(pretrained.test[scored])
            entry["baseline"] = classification_metrics(truth, h.to_codes(np.maximum(probe, 0)), h.kept)
            entry["probe_c"] = probes[name].c
        scores[name] = entry
    return scores


def _run_seed(seed: int, inputs: _Inputs, pretrained: _Pretrained, backbone: StagedBackbone, n_frozen: int,
              device: Any, config: ClassifyConfig) -> tuple[dict[str, Any], FitResult]:
    backbone.load_state_dict(pretrained.state)
    samples = inputs.seed_rows(seed)
    fit_labels = {name: y[samples] for name, y in inputs.train_head.items()}
    weights = {name: class_weights(fit_labels[name], len(h.kept)) for name, h in inputs.heads.items()}
    torch.manual_seed(seed)
    model = MultiHeadClassifier(backbone, n_frozen, {name: len(h.kept) for name, h in inputs.heads.items()}).to(device)
    probes = _fit_probes(model, inputs, pretrained, samples, fit_labels, weights, config, seed) if pretrained.train is not None else {}
    task = ClassifyTask(model, {h.attribute: h.weight for h in config.heads}, weights).to(device)
    logger.info("training seed", extra={"seed": seed, "samples": len(samples), "validation": len(inputs.val_samples), "n_frozen": n_frozen})
    result = fit(task, inputs.train_x[samples], fit_labels, inputs.train_x[inputs.val_samples], inputs.val_labels, config.fit, seed)
    run: dict[str, Any] = {
        "seed": seed, "epochs": result.epochs, "best_epoch": result.best_epoch, "best_val_score": result.best_score,
        "monitor": config.fit.monitor, "seconds_per_epoch": float(np.mean(result.seconds_per_epoch)),
        "samples_per_s": result.samples_per_s, "train_samples": int(len(samples)),
        "augmented_samples": int(sum(not inputs.index.samples[i].op.is_identity for i in samples)),
        "heads": _score_heads(task, inputs, pretrained, probes, backbone, config),
    }
    logger.info("seed done", extra={"seed": seed, **{f"{n}_accuracy": round(e["finetuned"]["accuracy"], 4) for n, e in run["heads"].items()}})
    return run, result


def run_classify(train_set: LabelledImages, test_set: LabelledImages, config: ClassifyConfig) -> ClassifyResult:
    """Fine-tune `config.encoder` on `train_set` (validation carved from it) and report on `test_set`."""
    _check_dataset(train_set, config.heads, "train")
    _check_dataset(test_set, config.heads, "test")
    started = time.perf_counter()
    encoder = create_encoder(config.encoder, modality=Modality.IMAGE, device=config.device)
    backbone = stage_encoder(encoder)
    n_frozen = backbone.frozen_blocks(config.freeze_percent)
    backbone.set_frozen(n_frozen)
    preprocess, override = resolve_preprocess(encoder, config.image_size)
    inputs = _prepare_inputs(train_set, test_set, config, encoder, backbone, n_frozen, preprocess)
    pretrained_test = _pooled(backbone, n_frozen, inputs.test_x)
    pretrained = _Pretrained(
        state=copy.deepcopy(backbone.state_dict()),
        train=_pooled(backbone, n_frozen, inputs.train_x) if config.baseline or config.head_init == "probe" else None,
        test=pretrained_test,
        neighbours={name: neighbour_precision(pretrained_test, inputs.test_codes[name], config.neighbours_k) for name in inputs.heads},
    )
    runs, history, best = [], {}, None
    for seed in config.seeds:
        run, result = _run_seed(seed, inputs, pretrained, backbone, n_frozen, encoder.device, config)
        runs.append(run)
        history[seed] = result.history
        if best is None or result.best_score < best[0]:
            best = (result.best_score, seed, copy.deepcopy(encoder.model.state_dict()))
    encoder.model.load_state_dict(best[2])
    encoder.model.eval()
    report = classify_report(config, train_set, test_set, inputs.heads, inputs.plans, inputs.fit_rows, inputs.val_samples, inputs.test_x,
                     runs, best[1], n_frozen, backbone, inputs.prefix_seconds, len(inputs.index.samples), time.perf_counter() - started)
    return ClassifyResult(report=report, encoder=encoder, preprocess=override, history=history)
