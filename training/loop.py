"""The one training loop every recipe runs: epochs, evaluation, early stopping, schedules, logs.

A recipe hands the loop a *task* (open_clip's pattern): the task owns the model,
its data and its loss, and the loop knows nothing about heads, towers or
tokenisers. What differs between recipes is configuration, not code:

- whether the starting weights count as epoch 0 (fine-tuning a pretrained model
  keeps it when no epoch beats it; freshly initialised heads do not);
- which evaluated value is monitored, which way is better, and by how much;
- evaluations every N steps as well as at each epoch's end;
- gradient clipping, and a warm-up schedule stepped once per optimiser step.

The loop keeps the best weights in memory (`task.snapshot()`), puts them back at
the end unless told not to, and records one history row per evaluation.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence

import torch
from tqdm.auto import tqdm

from vitrina.training.metrics.evaluator import is_improvement

log = logging.getLogger("vitrina.training.loop")

TIMING_KEYS = ("seconds", "samples_per_s")
"""History fields that depend on the machine, not on the seed (leave them out when comparing runs)."""


class TrainingTask(Protocol):
    """What the loop drives. `training_forward`'s report carries `samples`, the rows the step saw."""

    def batches(self, epoch: int) -> Sequence[Any]: ...

    def training_forward(self, batch: Any) -> tuple[dict[str, torch.Tensor], dict[str, float]]: ...

    def set_training(self, training: bool) -> None: ...

    def evaluate(self) -> dict[str, float]: ...

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]: ...

    def snapshot(self) -> Any: ...

    def restore(self, snapshot: Any) -> None: ...


@dataclass(frozen=True)
class LoopConfig:
    max_epochs: int
    monitor: str
    """The key of `task.evaluate()` that early stopping and the kept weights follow."""
    greater_is_better: bool = True
    min_delta: float = 0.0
    """An evaluation improves only when it beats the best by more than this."""
    patience: int = 1
    """Evaluations in a row without improvement before training stops."""
    eval_steps: int | None = None
    """Evaluate every N optimiser steps as well as at each epoch's end."""
    grad_clip: float = 0.0
    """Largest gradient norm (0: no clipping)."""
    log_steps: int | None = None
    """Log the mean loss and throughput every N steps (None: only per epoch)."""
    log_epochs: int = 1
    """Log every Nth epoch's evaluation (and always the last)."""
    restore_best: bool = True
    progress: bool = True
    name: str = "train"


@dataclass
class LoopResult:
    history: list[dict[str, Any]]
    """One row per evaluation: epoch (fractional mid-epoch), step, the task's metrics, and at
    each epoch's end train_loss, lr, seconds and samples_per_s."""
    best: dict[str, Any]
    best_snapshot: Any
    steps: int
    epoch_seconds: list[float] = field(default_factory=list)
    """Training time of each epoch, evaluations excluded; the last one partial when stopped mid-epoch."""
    samples: int = 0
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    @property
    def best_epoch(self) -> float:
        return self.best["epoch"]

    @property
    def train_seconds(self) -> float:
        return sum(self.epoch_seconds)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds > 0 else 0.0

    @property
    def ended_on_best(self) -> bool:
        return self.best["step"] == self.steps


class _Best:
    """The best evaluation so far, and how many evaluations in a row failed to beat it."""

    def __init__(self, config: LoopConfig, task: TrainingTask):
        self.config, self.task = config, task
        self.record: dict[str, Any] | None = None
        self.snapshot: Any = None
        self.stale = 0

    def offer(self, record: dict[str, Any]) -> bool:
        """Record an evaluation; True when training should stop."""
        best = None if self.record is None else float(self.record[self.config.monitor])
        if is_improvement(float(record[self.config.monitor]), best, self.config.min_delta, self.config.greater_is_better):
            self.record, self.snapshot, self.stale = record, self.task.snapshot(), 0
            return False
        self.stale += 1
        return self.stale >= self.config.patience


@dataclass
class _Window:
    """Loss and throughput since the last step log line."""

    loss: float = 0.0
    steps: int = 0
    samples: int = 0
    data_s: float = 0.0
    step_s: float = 0.0


def run_loop(
    task: TrainingTask,
    optimizer: torch.optim.Optimizer,
    config: LoopConfig,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    start: dict[str, float] | None = None,
) -> LoopResult:
    """Train `task` for up to `config.max_epochs` epochs; `start` (the starting weights' evaluation) is epoch 0."""
    best = _Best(config, task)
    result = LoopResult(history=[], best={}, best_snapshot=None, steps=0)
    if start is not None:
        result.history.append({"epoch": 0, "step": 0, **start})
        best.offer(result.history[-1])
    for epoch in range(1, config.max_epochs + 1):
        samples_before = result.samples
        stop, loss, steps = _train_epoch(task, optimizer, scheduler, config, epoch, result, best)
        if stop:
            result.stopped_early = True
            break
        record = {"epoch": epoch, "step": result.steps, **task.evaluate(), "train_loss": loss / max(steps, 1),
                  "lr": optimizer.param_groups[0]["lr"], "seconds": result.epoch_seconds[-1],
                  "samples_per_s": (result.samples - samples_before) / max(result.epoch_seconds[-1], 1e-9)}
        result.history.append(record)
        stop = best.offer(record)
        if epoch % config.log_epochs == 0 or stop or epoch == config.max_epochs:
            log.info("epoch done", extra={"loop": config.name, **{k: round(v, 5) if isinstance(v, float) else v
                                                                   for k, v in record.items()}})
        if stop:
            result.stopped_early = True
            break
    result.best, result.best_snapshot = best.record or {}, best.snapshot
    if config.restore_best and best.snapshot is not None:
        task.restore(best.snapshot)
    task.set_training(False)
    return result


def _train_epoch(task: TrainingTask, optimizer: torch.optim.Optimizer, scheduler: Any, config: LoopConfig, epoch: int,
                 result: LoopResult, best: _Best) -> tuple[bool, float, int]:
    """One pass over `task.batches(epoch)`; (stopped by a mid-epoch evaluation, summed loss, steps)."""
    task.set_training(True)
    batches = task.batches(epoch)
    started = ready = time.perf_counter()
    window, total, steps, paused = _Window(), 0.0, 0, 0.0
    bar = tqdm(batches, desc=f"{config.name} epoch {epoch}", unit="batch", leave=False,
               disable=not (config.progress and log.isEnabledFor(logging.INFO)))
    stop = False
    for batch in bar:
        begun = time.perf_counter()
        losses, report = task.training_forward(batch)
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(list(task.trainable_parameters()), config.grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        done = time.perf_counter()
        value, samples = float(loss.detach()), int(report["samples"])
        result.steps, result.samples = result.steps + 1, result.samples + samples
        total, steps = total + value, steps + 1
        window.loss, window.steps, window.samples = window.loss + value, window.steps + 1, window.samples + samples
        window.data_s, window.step_s = window.data_s + begun - ready, window.step_s + done - begun
        ready = done
        if config.log_steps and result.steps % config.log_steps == 0:
            _log_window(config, epoch, result.steps, window, optimizer)
            bar.set_postfix(loss=round(window.loss / window.steps, 4))
            window = _Window()
        if config.eval_steps and result.steps % config.eval_steps == 0 and steps < len(batches):
            paused_at = time.perf_counter()
            result.history.append({"epoch": round(epoch - 1 + steps / len(batches), 3), "step": result.steps, **task.evaluate()})
            stop = best.offer(result.history[-1])
            task.set_training(True)
            paused += time.perf_counter() - paused_at  # evaluation is not training time
            ready = time.perf_counter()
            if stop:
                break
    bar.close()
    result.epoch_seconds.append(round(time.perf_counter() - started - paused, 3))
    return stop, total, steps


def _log_window(config: LoopConfig, epoch: int, step: int, window: _Window, optimizer: torch.optim.Optimizer) -> None:
    busy = window.data_s + window.step_s
    log.info("train", extra={
        "loop": config.name, "epoch": epoch, "step": step, "loss": round(window.loss / window.steps, 4),
        "lr": optimizer.param_groups[0]["lr"], "samples_per_s": round(window.samples / max(busy, 1e-9), 1),
        "data_s": round(window.data_s, 3), "step_s": round(window.step_s, 3)})


def warmup_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                    decay: str = "cosine") -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over `warmup_steps`, then cosine or linear decay to zero at `total_steps`."""
    if decay not in ("cosine", "linear"):
        raise ValueError(f"decay: expected cosine or linear, got {decay!r}")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress)) if decay == "cosine" else 1.0 - progress

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def module_snapshot(module: torch.nn.Module, trainable_only: bool = False) -> dict[str, torch.Tensor]:
    """Detached copies of a module's weights: every tensor of its state, or only the trainable parameters."""
    if trainable_only:
        return {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
    return {n: t.detach().clone() for n, t in module.state_dict().items()}


def restore_snapshot(module: torch.nn.Module, snapshot: dict[str, torch.Tensor], partial: bool = False) -> None:
    """Put `module_snapshot`'s tensors back. A whole snapshot must match the module exactly; a
    `partial` one (trainable_only) leaves the other weights alone."""
    module.load_state_dict(snapshot, strict=not partial)
