"""The one contract every evaluator follows, so recall@k, STS and ARI land in one report.

An evaluator is called on a *target* (a text encoder for STS, a matrix of vectors
for clustering and neighbour metrics, query/target vectors for retrieval) and
returns flat `{"<name>_<metric>": float}`. The prefix keeps metrics of many
evaluators apart in one dictionary; `primary_metric` names the one value early
stopping and model selection look at, and `greater_is_better` says which way is up.
"""
from __future__ import annotations

import abc
import logging
import math
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from vitrina.schemas.errors import FieldError

log = logging.getLogger("vitrina.training.metrics")

EncodeFn = Callable[[Sequence[str]], np.ndarray]


class EvaluatorError(FieldError):
    """An evaluator was configured or called with an unusable value; names the field."""


def prefix_metrics(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """{"pearson": .8} -> {"sts_pearson": .8}; an empty prefix leaves the names alone."""
    if not prefix:
        return dict(metrics)
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def as_encode_fn(target: Any) -> EncodeFn:
    """An encoder object (anything with `.encode(texts)`) or a plain function, as a function."""
    encode = getattr(target, "encode", target)
    if not callable(encode):
        raise EvaluatorError("target", f"expected a text encoder or a function texts -> vectors, got {type(target).__name__}")
    return encode


def is_improvement(new: float, best: float | None, min_delta: float, greater_is_better: bool) -> bool:
    """Whether `new` beats `best` by more than `min_delta` in the given direction; anything but NaN
    beats no best (None or NaN). Early stopping and model selection share this one rule."""
    if best is None or (isinstance(best, float) and math.isnan(best)):
        return not math.isnan(new)
    return new > best + min_delta if greater_is_better else new < best - min_delta


class Evaluator(abc.ABC):
    """Subclasses set `name`, `primary_metric`, `greater_is_better` and implement `compute`."""

    name: str = ""
    primary_metric: str = ""
    greater_is_better: bool = True

    @abc.abstractmethod
    def compute(self, target: Any) -> dict[str, float]:
        """Unprefixed metrics of `target`."""

    def __call__(self, target: Any) -> dict[str, float]:
        start = time.perf_counter()
        metrics = self.compute(target)
        if self.primary_metric not in metrics:
            raise EvaluatorError("primary_metric", f"{type(self).__name__} did not report {self.primary_metric!r}")
        log.info(
            "evaluated",
            extra={"evaluator": self.name, self.primary_metric: round(float(metrics[self.primary_metric]), 4),
                   "seconds": round(time.perf_counter() - start, 2)},
        )
        return prefix_metrics(self.name, {k: float(v) for k, v in metrics.items()})

    @property
    def primary_key(self) -> str:
        """The prefixed name of the primary metric, as it appears in `__call__`'s result."""
        return f"{self.name}_{self.primary_metric}" if self.name else self.primary_metric

    def is_improvement(self, new: float, best: float | None, min_delta: float = 0.0) -> bool:
        """Whether `new` beats `best` by more than `min_delta` in this evaluator's direction."""
        return is_improvement(new, best, min_delta, self.greater_is_better)


class SequentialEvaluator(Evaluator):
    """Runs several evaluators on the same target; the first one's primary metric is primary."""

    def __init__(self, evaluators: Iterable[Evaluator], name: str = ""):
        self.evaluators = list(evaluators)
        if not self.evaluators:
            raise EvaluatorError("evaluators", "give at least one evaluator")
        self.name = name
        first = self.evaluators[0]
        self.primary_metric = first.primary_key
        self.greater_is_better = first.greater_is_better

    def compute(self, target: Any) -> dict[str, float]:
        merged: dict[str, float] = {}
        for evaluator in self.evaluators:
            merged.update(evaluator(target))
        return merged
