"""Multi-head classification on a staged backbone, as a task for `training/loop.py`.

One task object owns the model and the loss (`training_forward(batch) ->
(losses, report)`); the loop knows nothing about heads or backbones.
Inputs are frozen-prefix outputs (see `prefix_cache.py`), so the loop runs
only the trainable suffix and the heads.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vitrina.training.loop import LoopConfig, module_snapshot, restore_snapshot, run_loop
from vitrina.training.recipes.staged import StagedBackbone

logger = logging.getLogger(__name__)

MONITORS = ("loss", "balanced_accuracy")


@dataclass(frozen=True)
class HeadSpec:
    """One linear head: the attribute it predicts and its weight in the summed loss."""

    attribute: str
    weight: float = 1.0

    @classmethod
    def parse(cls, text: str) -> "HeadSpec":
        """`category` or `category:0.7`."""
        name, sep, weight = text.partition(":")
        if not name:
            raise ValueError(f"head {text!r}: expected ATTRIBUTE or ATTRIBUTE:WEIGHT")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"head {text!r}: weight {weight!r} is not a number") from None
        if not value > 0:
            raise ValueError(f"head {text!r}: weight must be positive")
        return cls(name, value)


@dataclass(frozen=True)
class FitConfig:
    max_epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    """Learning rate of the heads."""
    backbone_lr: float | None = 1e-4
    """Learning rate of the trainable backbone blocks (None: same as lr); pretrained blocks want a smaller one."""
    weight_decay: float = 1e-4
    """Adam's L2 weight decay."""
    patience: int = 2
    """Stop after this many epochs without a validation improvement larger than `tolerance`."""
    tolerance: float = 1e-3
    monitor: str = "loss"
    """Early-stopping criterion on the validation set: "loss" (the weighted, class-weighted cross-entropy)
    or "balanced_accuracy" (mean per-class recall, averaged over heads with their loss weights)."""
    freeze_bn: bool = True
    """Keep batch-norm statistics of the trainable blocks at their pretrained values (scale and shift still train).
    Small fine-tuning sets give noisy batch statistics, and a probe-initialised head was fitted on eval-mode features."""
    log_every: int = 50
    progress: bool = True

    def __post_init__(self) -> None:
        checks = {
            "max_epochs": self.max_epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "backbone_lr": self.backbone_lr is None or self.backbone_lr > 0,
            "weight_decay": self.weight_decay >= 0,
            "patience": self.patience >= 0,
            "tolerance": self.tolerance >= 0,
            "monitor": self.monitor in MONITORS,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"FitConfig.{name}: invalid value {getattr(self, name)!r}")


class MultiHeadClassifier(nn.Module):
    """Trainable suffix of the backbone -> pooled features -> one linear head per attribute."""

    def __init__(self, backbone: StagedBackbone, n_frozen: int, head_sizes: dict[str, int]):
        super().__init__()
        self.backbone = backbone
        self.n_frozen = n_frozen
        self.names = list(head_sizes)
        # ModuleDict keys cannot hold dots; attribute names may.
        self.heads = nn.ModuleList([nn.Linear(backbone.dim, size) for size in head_sizes.values()])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.suffix(x, self.n_frozen)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.features(x)
        return {name: head(pooled) for name, head in zip(self.names, self.heads)}

    def set_mode(self, training: bool, freeze_bn: bool = False) -> None:
        self.backbone.train_suffix(training, self.n_frozen)
        self.heads.train(training)
        if training and freeze_bn:
            for module in self.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def parameter_groups(self, lr: float, backbone_lr: float | None) -> list[dict]:
        backbone = [p for m in self.backbone.trainable_modules(self.n_frozen) for p in m.parameters() if p.requires_grad]
        groups = [{"params": list(self.heads.parameters()), "lr": lr}]
        if backbone:
            groups.append({"params": backbone, "lr": backbone_lr if backbone_lr is not None else lr})
        return groups


class ClassifyTask(nn.Module):
    """Model + loss: the weighted sum of class-weighted cross-entropies, one per head."""

    def __init__(self, model: MultiHeadClassifier, head_weights: dict[str, float], class_weights: dict[str, np.ndarray]):
        super().__init__()
        self.model = model
        self.head_weights = dict(head_weights)
        for name in model.names:
            self.register_buffer(f"_cw_{model.names.index(name)}", torch.as_tensor(class_weights[name], dtype=torch.float32))

    def class_weight(self, name: str) -> torch.Tensor:
        return getattr(self, f"_cw_{self.model.names.index(name)}")

    def losses(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        total = None
        for name in self.model.names:
            target = labels[name]
            valid = target >= 0
            if bool(valid.any()):
                loss = F.cross_entropy(logits[name][valid], target[valid], weight=self.class_weight(name))
            else:
                # A batch without labels for this head (a secondary attribute many items lack).
                loss = logits[name].sum() * 0.0
            out[f"loss_{name}"] = loss
            weighted = self.head_weights[name] * loss
            total = weighted if total is None else total + weighted
        out["loss"] = total
        return out

    def training_forward(self, batch: dict) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        logits = self.model(batch["x"])
        losses = self.losses(logits, batch["labels"])
        return losses, {"samples": int(batch["x"].shape[0])}


@dataclass
class FitResult:
    epochs: int
    best_epoch: int
    best_score: float
    """The monitored value at the best epoch, lower is better (balanced accuracy is negated)."""
    seconds_per_epoch: list[float] = field(default_factory=list)
    samples_per_s: float = 0.0
    history: list[dict] = field(default_factory=list)


def _batch(features: np.ndarray, labels: dict[str, np.ndarray], rows: np.ndarray, device: torch.device) -> dict:
    return {
        "x": torch.from_numpy(features[rows].astype(np.float32)).to(device),
        "labels": {name: torch.from_numpy(values[rows]).to(device) for name, values in labels.items()},
    }


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def evaluate(task: ClassifyTask, features: np.ndarray, labels: dict[str, np.ndarray], batch_size: int = 256) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Logits per head and the mean losses (sample-weighted over batches) in eval mode."""
    task.model.set_mode(False)
    logits: dict[str, list[np.ndarray]] = {name: [] for name in task.model.names}
    sums: dict[str, float] = {}
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            rows = np.arange(start, min(start + batch_size, len(features)))
            batch = _batch(features, labels, rows, _device(task.model))
            out = task.model(batch["x"])
            for name, value in task.losses(out, batch["labels"]).items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(rows)
            for name in task.model.names:
                logits[name].append(out[name].float().cpu().numpy())
    n = max(1, len(features))
    return {k: np.concatenate(v) for k, v in logits.items()}, {k: v / n for k, v in sums.items()}


def balanced_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean recall over the classes present in `labels` (rows < 0 ignored); NaN without labels."""
    labelled = labels >= 0
    if not labelled.any():
        return float("nan")
    predicted = logits[labelled].argmax(axis=1)
    truth = labels[labelled]
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))


def validation_record(task: ClassifyTask, val_x: np.ndarray, val_labels: dict[str, np.ndarray], monitor: str) -> dict[str, float]:
    """val_loss, val_balanced_accuracy and the monitored `score` (lower is better)."""
    logits, losses = evaluate(task, val_x, val_labels)
    scores = {name: balanced_accuracy(logits[name], val_labels[name]) for name in task.model.names}
    weights = {name: task.head_weights[name] for name in scores if not math.isnan(scores[name])}
    total = sum(weights.values())
    balanced = sum(weights[n] * scores[n] for n in weights) / total if total else float("nan")
    score = losses["loss"] if monitor == "loss" else -balanced
    return {"val_loss": losses["loss"], "val_balanced_accuracy": balanced, "score": score}


class ClassifyTraining:
    """The loop's view of one seed: shuffled sample rows in, the monitored validation value out."""

    def __init__(self, task: ClassifyTask, train_x: np.ndarray, train_labels: dict[str, np.ndarray], val_x: np.ndarray,
                 val_labels: dict[str, np.ndarray], config: FitConfig, seed: int):
        self.task, self.config = task, config
        self.train_x, self.train_labels, self.val_x, self.val_labels = train_x, train_labels, val_x, val_labels
        # One generator for the whole fit: each epoch draws the next permutation of it.
        self.generator = torch.Generator().manual_seed(seed)
        self.device = _device(task.model)

    def batches(self, epoch: int) -> list[np.ndarray]:
        order = torch.randperm(len(self.train_x), generator=self.generator).numpy()
        size = self.config.batch_size
        return [order[start:start + size] for start in range(0, len(order), size)]

    def training_forward(self, rows: np.ndarray) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        losses, report = self.task.training_forward(_batch(self.train_x, self.train_labels, rows, self.device))
        return {"loss": losses["loss"]}, report

    def set_training(self, training: bool) -> None:
        self.task.model.set_mode(training, self.config.freeze_bn)

    def evaluate(self) -> dict[str, float]:
        return validation_record(self.task, self.val_x, self.val_labels, self.config.monitor)

    def trainable_parameters(self):
        return (p for p in self.task.model.parameters() if p.requires_grad)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return module_snapshot(self.task.model)

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        restore_snapshot(self.task.model, snapshot)


def fit(
    task: ClassifyTask,
    train_x: np.ndarray,
    train_labels: dict[str, np.ndarray],
    val_x: np.ndarray,
    val_labels: dict[str, np.ndarray],
    config: FitConfig,
    seed: int,
) -> FitResult:
    """Adam with weight decay; early stopping on the monitored validation value; the best epoch's weights are restored."""
    torch.manual_seed(seed)
    training = ClassifyTraining(task, train_x, train_labels, val_x, val_labels, config, seed)
    optimizer = torch.optim.Adam(task.model.parameter_groups(config.lr, config.backbone_lr), weight_decay=config.weight_decay)
    # Epoch 0 is the starting point: if no epoch beats it, the initial model is kept.
    loop = LoopConfig(max_epochs=config.max_epochs, monitor="score", greater_is_better=False, min_delta=config.tolerance,
                      patience=config.patience, log_steps=config.log_every,
                      progress=config.progress, name="classify")
    result = run_loop(training, optimizer, loop, start=training.evaluate())
    return FitResult(epochs=result.epochs, best_epoch=int(result.best_epoch), best_score=float(result.best["score"]),
                     seconds_per_epoch=list(result.epoch_seconds), samples_per_s=result.samples_per_second,
                     history=result.history)
