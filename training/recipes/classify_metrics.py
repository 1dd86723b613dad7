"""Classification metrics as the research reports them, and mean ± std over seeds.

"Overall" scores every test item, including those of classes dropped by
rebalancing (the model cannot predict them, so they count as errors);
"retained" scores only items whose true class was kept. Macro precision and
recall average over the classes seen in y_true or y_pred (scikit-learn's
rule), with 0 for a class never predicted.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
from sklearn.metrics import accuracy_score, precision_score, recall_score

METRICS = ("accuracy", "macro_precision", "macro_recall")
COUNT_KEYS = ("n", "n_retained")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, retained: Iterable[int]) -> dict[str, float]:
    """accuracy / macro precision / macro recall, overall and `retained_*`, plus the item counts."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    out: dict[str, float] = {"n": int(len(y_true))}
    out.update(_scores(y_true, y_pred, ""))
    mask = np.isin(y_true, np.fromiter(retained, dtype=np.int64))
    out["n_retained"] = int(mask.sum())
    out.update(_scores(y_true[mask], y_pred[mask], "retained_"))
    return out


def _scores(y_true: np.ndarray, y_pred: np.ndarray, prefix: str) -> dict[str, float]:
    if len(y_true) == 0:
        return {f"{prefix}{name}": float("nan") for name in METRICS}
    return {
        f"{prefix}accuracy": float(accuracy_score(y_true, y_pred)),
        f"{prefix}macro_precision": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        f"{prefix}macro_recall": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def mean_std(values: Iterable[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    array = np.asarray(list(values), dtype=np.float64)
    if len(array) == 0:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "n": int(len(array))}


def summarise_runs(runs: list[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """{metric: mean_std} over the runs' numeric metrics."""
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))] if runs else []
    # Counts ("n", "n_retained") are the same in every run: reported once, not averaged.
    return {k: runs[0][k] if k in COUNT_KEYS else mean_std(run[k] for run in runs) for k in keys}


def neighbour_precision(embeddings: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Mean share of each item's k nearest neighbours (cosine, itself excluded) with its label.

    Measures the backbone as a search encoder: what a user browsing
    "similar items" sees. Items with label < 0 are left out.
    """
    keep = np.asarray(labels) >= 0
    x = np.asarray(embeddings, dtype=np.float32)[keep]
    y = np.asarray(labels)[keep]
    if len(x) <= k:
        return float("nan")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    neighbours = np.argpartition(-sims, k, axis=1)[:, :k]
    return float((y[neighbours] == y[:, None]).mean())
