"""The align recipe's model and its training: two projection heads and the CLIP loss, on frozen features.

`AlignTask` is the model (it is what the checkpoint keeps); `AlignTraining` is
what `training/loop.py` drives: batches of pair rows, the validation recall, and
the weights worth keeping.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vitrina.training.data.paired_features import PairedFeatures
from vitrina.training.heads import HeadConfig, create_head
from vitrina.training.loop import LoopConfig, LoopResult, module_snapshot, restore_snapshot, run_loop, warmup_schedule
from vitrina.training.losses import ClipLoss
from vitrina.training.recipes.align_scores import evaluate_pairs, primary_score

if TYPE_CHECKING:
    from vitrina.training.recipes.align import AlignConfig

MONITOR = "validation_recall@10"


class AlignTask(nn.Module):
    """Owns both heads and the loss."""

    def __init__(self, image_head: HeadConfig, text_head: HeadConfig, init_temperature: float):
        super().__init__()
        self.image_config, self.text_config = image_head, text_head
        self.image_head = create_head(image_head)
        self.text_head = create_head(text_head)
        self.loss = ClipLoss(init_temperature=init_temperature)

    def embed_image(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_head(features), dim=-1)

    def embed_text(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_head(features), dim=-1)

    def training_forward(self, image: torch.Tensor, text: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        loss = self.loss(self.embed_image(image), self.embed_text(text))
        return {"clip": loss}, {"samples": float(len(image)), "temperature": self.loss.temperature}

    @torch.no_grad()
    def embed(self, pairs: PairedFeatures) -> tuple[np.ndarray, np.ndarray]:
        was_training = self.training
        self.eval()
        image = self.embed_image(torch.from_numpy(pairs.image)).numpy()
        text = self.embed_text(torch.from_numpy(pairs.text)).numpy()
        self.train(was_training)
        return image, text


class AlignTraining:
    """The loop's view of one head kind and seed: shuffled pair rows in, validation recall@10 out."""

    def __init__(self, task: AlignTask, train: PairedFeatures, validation: PairedFeatures, batch_size: int,
                 ks: tuple[int, ...], seed: int):
        self.task, self.validation, self.batch_size, self.ks, self.seed = task, validation, batch_size, ks, seed
        self.image, self.text = torch.from_numpy(train.image), torch.from_numpy(train.text)

    def batches(self, epoch: int) -> list[torch.Tensor]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.image))
        chunks = [torch.from_numpy(order[b:b + self.batch_size]) for b in range(0, len(order), self.batch_size)]
        return [rows for rows in chunks if len(rows) >= 2]  # a lone pair has no negatives

    def training_forward(self, rows: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        return self.task.training_forward(self.image[rows], self.text[rows])

    def set_training(self, training: bool) -> None:
        self.task.train(training)

    def evaluate(self) -> dict[str, float]:
        score = primary_score(evaluate_pairs(*self.task.embed(self.validation), self.validation, self.ks))
        return {MONITOR: score, "temperature": self.task.loss.temperature}

    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        return (p for p in self.task.parameters() if p.requires_grad)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return module_snapshot(self.task)

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        restore_snapshot(self.task, snapshot)


@dataclass
class FittedHeads:
    kind: str
    task: AlignTask
    best_epoch: int
    best_validation: float
    epochs_run: int
    seconds_per_epoch: float
    samples_per_second: float
    history: list[dict[str, float]]


def fit_heads(train: PairedFeatures, validation: PairedFeatures, kind: str, config: AlignConfig, seed: int) -> FittedHeads:
    """Train one head kind; returns the weights of the best validation epoch."""
    torch.manual_seed(seed)
    task = AlignTask(
        HeadConfig(train.image.shape[1], config.dim, kind, config.hidden_dim, config.dropout),
        HeadConfig(train.text.shape[1], config.dim, kind, config.hidden_dim, config.dropout),
        config.init_temperature,
    )
    optimizer = torch.optim.AdamW(_parameter_groups(task, config.weight_decay), lr=config.lr)
    batches_per_epoch = max(1, math.ceil(len(train) / config.batch_size))
    scheduler = warmup_schedule(optimizer, warmup_steps=batches_per_epoch, total_steps=config.epochs * batches_per_epoch)
    # Fresh heads: the starting weights are no candidate, so there is no epoch 0.
    loop = LoopConfig(max_epochs=config.epochs, monitor=MONITOR, patience=config.patience,
                      log_epochs=config.log_every, name=f"align {kind} seed {seed}")
    result: LoopResult = run_loop(AlignTraining(task, train, validation, config.batch_size, config.ks, seed),
                                  optimizer, loop, scheduler)
    return FittedHeads(kind, task, int(result.best_epoch), float(result.best[MONITOR]), result.epochs,
                       result.train_seconds / result.epochs, result.samples_per_second, result.history)


def _parameter_groups(task: AlignTask, weight_decay: float) -> list[dict[str, Any]]:
    # As in CLIP: no decay on biases and the temperature, which have no scale to shrink.
    decay, no_decay = [], []
    for name, parameter in task.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or name.endswith("logit_scale") else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
