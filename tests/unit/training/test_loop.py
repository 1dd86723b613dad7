"""training/loop.py: the one loop every recipe runs, driven by a scripted task."""
from __future__ import annotations

import pytest
import torch

from vitrina.training.loop import LoopConfig, module_snapshot, restore_snapshot, run_loop, warmup_schedule


class ScriptedTask:
    """A one-weight model; `evaluate` replays a fixed list of scores and records the weight it saw."""

    def __init__(self, scores, batches_per_epoch=4):
        self.model = torch.nn.Linear(1, 1, bias=False)
        self.scores = list(scores)
        self.batches_per_epoch = batches_per_epoch
        self.seen_weights: list[float] = []
        self.modes: list[bool] = []

    def batches(self, epoch):
        return [torch.full((2, 1), float(epoch + b)) for b in range(self.batches_per_epoch)]

    def training_forward(self, batch):
        return {"loss": (self.model(batch) - 1.0).pow(2).mean()}, {"samples": len(batch)}

    def set_training(self, training):
        self.modes.append(training)

    def evaluate(self):
        self.seen_weights.append(float(self.model.weight.detach()))
        return {"score": self.scores.pop(0)}

    def trainable_parameters(self):
        return self.model.parameters()

    def snapshot(self):
        return module_snapshot(self.model)

    def restore(self, snapshot):
        restore_snapshot(self.model, snapshot)


def _run(task, **config):
    optimizer = torch.optim.SGD(task.model.parameters(), lr=0.01)
    return run_loop(task, optimizer, LoopConfig(**{"max_epochs": 10, "monitor": "score", "progress": False, **config}))


def test_stops_after_patience_and_restores_the_best_epochs_weights():
    task = ScriptedTask([0.1, 0.5, 0.4, 0.45, 0.3, 0.9])
    result = _run(task, patience=3)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    assert result.stopped_early and result.best_epoch == 2 and result.best["score"] == 0.5
    assert float(task.model.weight.detach()) == pytest.approx(task.seen_weights[1])
    assert task.modes[-1] is False  # left in evaluation mode


def test_a_starting_point_that_nothing_beats_is_kept():
    task = ScriptedTask([0.2, 0.1, 0.15])
    start_weight = float(task.model.weight.detach())
    optimizer = torch.optim.SGD(task.model.parameters(), lr=0.01)
    result = run_loop(task, optimizer, LoopConfig(max_epochs=10, monitor="score", patience=2, progress=False),
                      start={"score": 0.3})
    assert [h["epoch"] for h in result.history] == [0, 1, 2]
    assert result.best_epoch == 0 and result.epochs == 2
    assert float(task.model.weight.detach()) == pytest.approx(start_weight)


def test_lower_is_better_with_a_minimum_improvement():
    # 0.95 is lower than 1.0 but not by more than min_delta, so it does not count.
    task = ScriptedTask([1.0, 0.95, 0.5, 0.6, 0.55])
    result = _run(task, greater_is_better=False, min_delta=0.1, patience=2)
    assert result.best_epoch == 3 and len(result.history) == 5


def test_mid_epoch_evaluations_have_fractional_epochs_and_can_stop_training():
    task = ScriptedTask([0.1, 0.2, 0.3, 0.0, 0.0, 0.0], batches_per_epoch=4)
    result = _run(task, eval_steps=2, patience=2, max_epochs=3)
    # Step 2 is mid-epoch 1, step 4 ends epoch 1 (its end-of-epoch evaluation, not a second one), step 6 is mid-epoch 2.
    assert [(h["epoch"], h["step"]) for h in result.history][:3] == [(0.5, 2), (1, 4), (1.5, 6)]
    assert result.stopped_early
    assert result.steps == 10 and result.history[-1]["step"] == 10 and result.epochs == 3
    assert "train_loss" in result.history[1] and "train_loss" not in result.history[0]


def test_the_loss_falls_and_throughput_is_counted():
    task = ScriptedTask([0.0] * 10)
    result = _run(task, patience=100, max_epochs=5)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.samples == 5 * 4 * 2 and result.samples_per_second > 0
    assert len(result.epoch_seconds) == 5


def test_gradient_clipping_bounds_each_step():
    task = ScriptedTask([0.0] * 2, batches_per_epoch=1)
    with torch.no_grad():
        task.model.weight.fill_(100.0)
    optimizer = torch.optim.SGD(task.model.parameters(), lr=1.0)
    run_loop(task, optimizer, LoopConfig(max_epochs=1, monitor="score", grad_clip=0.5, progress=False))
    assert float(task.model.weight.detach()) == pytest.approx(99.5)


@pytest.mark.parametrize("decay, middle", [("cosine", 0.5), ("linear", 0.5)])
def test_warmup_then_decay(decay, middle):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_schedule(optimizer, warmup_steps=2, total_steps=12, decay=decay)
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert rates[7] == pytest.approx(middle)
    assert rates[-1] < 0.1
    with pytest.raises(ValueError, match="decay"):
        warmup_schedule(optimizer, 1, 2, decay="step")
