"""Classification metrics as the research reports them, mean ± std over seeds, and the recipe's report.

"Overall" scores every test item, including those of classes dropped by
rebalancing (the model cannot predict them, so they count as errors);
"retained" scores only items whose true class was kept. Macro precision and
recall average over the classes seen in y_true or y_pred (scikit-learn's
rule), with 0 for a class never predicted.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

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


def classify_report(config, train_set, test_set, heads, plans, fit_rows, val_samples, test_x, runs, best_seed, n_frozen, backbone,
            prefix_seconds, unique_samples, seconds) -> dict:
    """The recipe's JSON report: config, data and rebalancing, backbone, timing, per-seed runs and their summary."""
    summary: dict[str, Any] = {}
    for name in heads:
        summary[name] = {
            kind: summarise_runs([run["heads"][name][kind] for run in runs])
            for kind in ("baseline", "finetuned") if kind in runs[0]["heads"][name]
        }
        summary[name]["neighbour_precision"] = {
            kind: summarise_runs([{"value": run["heads"][name]["neighbour_precision"][kind]} for run in runs])["value"]
            for kind in ("pretrained", "finetuned")
        }
    first = plans[config.seeds[0]]
    return {
        "recipe": "classify",
        "config": config.describe(),
        "data": {
            "train_source": train_set.source,
            "train_items": len(train_set),
            "fit_items": int(len(fit_rows)),
            "validation_items": int(len(val_samples)),
            "test_items": int(len(test_x)),
            "heads": {
                name: {
                    "classes": len(h.classes),
                    "kept": [h.classes[c] for c in h.kept],
                    "dropped": [h.classes[c] for c in range(len(h.classes)) if c not in set(h.kept.tolist())],
                }
                for name, h in heads.items()
            },
            "rebalance": {**first.summary(), "majority_classes": [heads[config.primary].classes[c] for c in first.majority_classes]},
        },
        "backbone": {"blocks": backbone.num_blocks, "frozen_blocks": n_frozen, "dim": backbone.dim},
        "timing": {
            "prefix_seconds": prefix_seconds,
            "unique_samples": unique_samples,
            "seconds_per_epoch": summarise_runs([{"v": r["seconds_per_epoch"]} for r in runs])["v"],
            "total_seconds": seconds,
        },
        "runs": runs,
        "summary": summary,
        "kept_seed": best_seed,
    }
