"""`vitrina train text`: contrastive fine-tuning of a mean-pooled text encoder on the catalogue.

Two methods, as in the research's description recipe:
- `simcse` (unsupervised): each sentence (an item's view) encoded twice with
  dropout active; NT-Xent over the 2N x 2N similarity matrix, self-similarity
  masked, at a temperature;
- `infonce` (supervised): anchor and positive are two views of one item (no
  paraphrasing model is reachable, so title / keywords / description stand in for
  paraphrases), K negatives (default 10) are views of items of other categories.

Items are split once by `split_seed` into train / dev / test: the dev STS set
(built from dev items only) drives early stopping, the test STS set is reported,
and neither ever contributes a training sentence. AdamW with linear warm-up and
decay; all layers or only the last N train. The best weights (by dev STS Pearson,
the baseline included) are saved with `save_pretrained`, so the result loads as
`hf:<output_dir>` with the same mean pooling.
"""
from __future__ import annotations

import json
import logging
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vitrina.training.data.text_views import ItemViews
from vitrina.training.loop import LoopConfig, module_snapshot, restore_snapshot, run_loop, warmup_schedule
from vitrina.training.metrics.evaluator import Evaluator
from vitrina.training.metrics.sts import StsEvaluator, build_sts_set
from vitrina.training.recipes.text_model import MeanPooledTextModel
from vitrina.training.recipes.text_tasks import InfoNceTask, SimCseTask, TextTask, unique_sentences
from vitrina.schemas.errors import FieldError

log = logging.getLogger("vitrina.training")

METHODS = ("simcse", "infonce")
RESULT_FILE = "training.json"


class TextRecipeError(FieldError):
    """A recipe option has an unusable value; names the option."""


@dataclass
class TextTrainConfig:
    method: str = field(default="simcse", metadata={"help": "simcse (unsupervised) or infonce (supervised)"})
    base: str = field(default="builtin:minilm-l6", metadata={"help": "Mean-pooled text encoder to fine-tune"})
    epochs: int = field(default=3, metadata={"help": "Upper bound; early stopping may end sooner"})
    batch_size: int = field(default=32, metadata={"help": "Sentences (simcse) or anchors (infonce) per step"})
    lr: float = field(default=3e-5, metadata={"help": "AdamW peak learning rate"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "Fraction of steps with a linearly rising learning rate"})
    temperature: float = field(default=0.05, metadata={"help": "Softmax temperature of the contrastive loss"})
    negatives: int = field(default=10, metadata={"help": "infonce: negatives per anchor, from other categories"})
    train_layers: int | None = field(default=None, metadata={"help": "Train only the last N transformer blocks (None: all)"})
    max_length: int = field(default=64, metadata={"help": "Tokens per text while training (serving keeps its own)"})
    max_train_examples: int | None = field(default=None, metadata={"help": "Cap on sentences (simcse) or anchors (infonce), seeded"})
    dev_fraction: float = field(default=0.1, metadata={"help": "Items held out for early stopping"})
    test_fraction: float = field(default=0.1, metadata={"help": "Items held out for the reported STS"})
    dev_pairs_per_grade: int = field(default=100, metadata={"help": "Dev STS pairs per grade"})
    test_pairs_per_grade: int = field(default=250, metadata={"help": "Test STS pairs per grade"})
    eval_steps: int | None = field(default=None, metadata={"help": "Evaluate every N steps too (None: once per epoch)"})
    patience: int = field(default=2, metadata={"help": "Evaluations without improvement before stopping"})
    min_delta: float = field(default=0.0, metadata={"help": "Smallest dev Pearson gain counted as improvement"})
    grad_clip: float = field(default=1.0, metadata={"help": "Max gradient norm (0: no clipping)"})
    seed: int = field(default=0, metadata={"help": "Seeds model dropout and batch sampling"})
    split_seed: int = field(default=0, metadata={"help": "Seeds the item split and STS sets (keep fixed across seeds)"})
    log_every: int = field(default=10, metadata={"help": "Log loss, lr and samples/s every N steps"})

    def validate(self) -> None:
        if self.method not in METHODS:
            raise TextRecipeError("method", f"unknown method {self.method!r}; expected one of {', '.join(METHODS)}")
        for name in ("epochs", "batch_size", "negatives", "patience", "log_every", "dev_pairs_per_grade", "test_pairs_per_grade"):
            if getattr(self, name) < 1:
                raise TextRecipeError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.method == "simcse" and self.batch_size < 2:
            raise TextRecipeError("batch_size", "simcse needs at least 2 sentences per batch (in-batch negatives)")
        for name in ("lr", "temperature"):
            if not getattr(self, name) > 0:
                raise TextRecipeError(name, f"must be positive, got {getattr(self, name)}")
        for name in ("weight_decay", "grad_clip", "min_delta"):
            if getattr(self, name) < 0:
                raise TextRecipeError(name, f"must not be negative, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise TextRecipeError("warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
        if not (0 < self.dev_fraction < 1 and 0 < self.test_fraction < 1 and self.dev_fraction + self.test_fraction < 1):
            raise TextRecipeError("dev_fraction", f"dev ({self.dev_fraction}) and test ({self.test_fraction}) fractions "
                                  "must be in (0, 1) and leave items to train on")
        for name in ("train_layers", "max_train_examples", "eval_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TextRecipeError(name, f"must be at least 1 or None, got {value}")


@dataclass
class ItemSplit:
    train: list[ItemViews]
    dev: list[ItemViews]
    test: list[ItemViews]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def split_items(items: Sequence[ItemViews], dev_fraction: float, test_fraction: float, seed: int) -> ItemSplit:
    """A seeded split by item (never by view: two views of one item stay on one side)."""
    ordered = sorted(items, key=lambda it: it.item_id)
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_dev, n_test = round(len(ordered) * dev_fraction), round(len(ordered) * test_fraction)
    pick = lambda rows: [ordered[i] for i in sorted(rows)]  # noqa: E731
    return ItemSplit(pick(order[n_dev + n_test:]), pick(order[:n_dev]), pick(order[n_dev:n_dev + n_test]))


@dataclass
class TextTrainResult:
    config: dict[str, Any]
    spec: str | None
    split: dict[str, int]
    sts_sets: dict[str, Any]
    baseline: dict[str, float]
    test: dict[str, float]
    best: dict[str, Any]
    history: list[dict[str, Any]]
    epoch_seconds: list[float]  # wall time of each epoch, the last one partial when stopped early
    steps_per_epoch: int
    seconds_per_epoch: float  # seconds per step x steps per epoch: comparable across early stops
    samples_per_second: float
    test_last: dict[str, float]  # test metrics of the last weights, before early stopping restored the best
    trainable_parameters: int
    stopped_early: bool
    environment: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def create_text_loss(method: str, temperature: float) -> torch.nn.Module:
    """The loss of `method` from training/losses (NT-Xent for simcse, InfoNCE for infonce)."""
    if method == "simcse":
        from vitrina.training.losses import NTXentLoss

        return NTXentLoss(temperature=temperature)
    from vitrina.training.losses import InfoNCELoss

    return InfoNCELoss(temperature=temperature)


def create_text_task(config: TextTrainConfig, model: MeanPooledTextModel, train: Sequence[ItemViews]) -> TextTask:
    loss = create_text_loss(config.method, config.temperature)
    rng = np.random.default_rng([config.seed, 1_000_003])  # cap sampling, apart from batch sampling
    if config.method == "simcse":
        sentences = unique_sentences(train)
        if config.max_train_examples is not None and len(sentences) > config.max_train_examples:
            sentences = [sentences[i] for i in sorted(rng.choice(len(sentences), config.max_train_examples, replace=False))]
        return SimCseTask(model, loss, sentences, config.batch_size, config.seed)
    task = InfoNceTask(model, loss, train, config.negatives, config.batch_size, config.seed)
    if config.max_train_examples is not None and len(task.anchors) > config.max_train_examples:
        task.anchors = sorted(rng.choice(task.anchors, config.max_train_examples, replace=False).tolist())
    return task


class TextTraining:
    """The loop's view of a text task: its batches and loss, the dev STS evaluation, the trainable weights."""

    def __init__(self, task: TextTask, dev: Evaluator):
        self.task, self.dev, self.model = task, dev, task.model

    def batches(self, epoch: int) -> list:
        return self.task.batches(epoch)

    def training_forward(self, batch) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        return self.task.training_forward(batch)

    def set_training(self, training: bool) -> None:
        self.model.train(training)

    def evaluate(self) -> dict[str, float]:
        return self.dev(self.model)

    def trainable_parameters(self):
        return self.model.trainable_parameters()

    def snapshot(self) -> dict[str, torch.Tensor]:
        return module_snapshot(self.model.model, trainable_only=True)

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        restore_snapshot(self.model.model, snapshot, partial=True)


def _environment() -> dict[str, str]:
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "threads": str(torch.get_num_threads())}


def train_text(
    items: Sequence[ItemViews],
    config: TextTrainConfig,
    output_dir: str | Path | None = None,
    progress: bool = True,
    model: MeanPooledTextModel | None = None,
) -> TextTrainResult:
    """Fine-tune `config.base` on `items`' views; save the best model to `output_dir` (when given)."""
    config.validate()
    split = split_items(items, config.dev_fraction, config.test_fraction, config.split_seed)
    dev_set = build_sts_set(split.dev, config.dev_pairs_per_grade, seed=config.split_seed)
    test_set = build_sts_set(split.test, config.test_pairs_per_grade, seed=config.split_seed + 1)
    dev, test = StsEvaluator(dev_set, name="dev_sts"), StsEvaluator(test_set, name="test_sts")
    torch.manual_seed(config.seed)
    model = model or MeanPooledTextModel.from_spec(config.base, config.max_length)
    trainable = model.train_last_layers(config.train_layers)
    task = create_text_task(config, model, split.train)
    log.info("text recipe", extra={"method": config.method, "split": split.sizes(), "trainable_parameters": trainable})

    baseline = {**dev(model), **test(model)}
    training = TextTraining(task, dev)
    steps_per_epoch = len(task.batches(0))
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total_steps = steps_per_epoch * config.epochs
    scheduler = warmup_schedule(optimizer, int(total_steps * config.warmup_ratio), total_steps, decay="linear")
    loop = LoopConfig(max_epochs=config.epochs, monitor=dev.primary_key, greater_is_better=dev.greater_is_better,
                      min_delta=config.min_delta, patience=config.patience, eval_steps=config.eval_steps,
                      grad_clip=config.grad_clip, log_steps=config.log_every, restore_best=False, progress=progress,
                      name=config.method)
    run = run_loop(training, optimizer, loop, scheduler, start=baseline)
    # What training itself led to, whether or not early stopping keeps it.
    last = {} if run.ended_on_best else test(model)
    training.restore(run.best_snapshot)
    final = baseline if run.best["step"] == 0 else {**dev(model), **test(model)}
    last = last or {k: v for k, v in final.items() if k.startswith("test_")}
    spec = model.save(output_dir) if output_dir is not None else None
    result = TextTrainResult(
        config=asdict(config), spec=spec, split=split.sizes(),
        sts_sets={"dev": dev_set.describe(), "test": test_set.describe()},
        baseline=baseline, test=final, best={k: run.best[k] for k in ("epoch", "step", dev.primary_key)},
        history=run.history, epoch_seconds=run.epoch_seconds, steps_per_epoch=steps_per_epoch,
        seconds_per_epoch=round(run.train_seconds / max(run.steps, 1) * steps_per_epoch, 2), test_last=last,
        samples_per_second=round(run.samples_per_second, 1), trainable_parameters=trainable,
        stopped_early=run.stopped_early, environment=_environment(),
    )
    if output_dir is not None:
        (Path(output_dir) / RESULT_FILE).write_text(result.to_json() + "\n")
    log.info("text recipe finished", extra={"best": result.best, test.primary_key: final[test.primary_key], "spec": spec})
    return result
