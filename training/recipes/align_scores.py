"""How aligned (picture, text) pairs are scored, and the ridge baseline every run is compared with.

Scores come twice: "strict" (only the item's own image/text is correct; an identical copy of it
ranked first counts as a miss) and "dedup" (any item with the same picture or the identical
text is correct).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from vitrina.training.data.paired_features import PairedFeatures
from vitrina.training.metrics.retrieval import cross_modal_retrieval

if TYPE_CHECKING:
    from vitrina.training.recipes.align import AlignConfig

PRIMARY = ("dedup", "text_to_image", "recall@10")  # what early stopping, head choice and the summary's headline use


def evaluate_pairs(image_vectors: np.ndarray, text_vectors: np.ndarray, pairs: PairedFeatures, ks: Sequence[int]) -> dict[str, Any]:
    """{"strict": {direction: summary}, "dedup": {...}} for row-aligned embeddings of `pairs`."""
    return {
        "strict": cross_modal_retrieval(image_vectors, text_vectors, pairs.strict_labels, ks),
        "dedup": cross_modal_retrieval(image_vectors, text_vectors, pairs.labels, ks),
    }


def primary_score(report: dict[str, Any]) -> float:
    kind, direction, metric = PRIMARY
    return float(report[kind][direction][metric])


def ridge_baseline(train: PairedFeatures, validation: PairedFeatures, heldout: PairedFeatures, config: AlignConfig) -> dict[str, Any]:
    """Ridge from image features to the text encoder's embeddings; texts rank mapped images by cosine."""
    from sklearn.linear_model import Ridge  # imported here: sklearn is slow to import and only the baseline needs it

    def mapped(model: "Ridge", pairs: PairedFeatures) -> np.ndarray:
        vectors = model.predict(pairs.image).astype(np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    best: tuple[float, float, "Ridge"] | None = None
    for alpha in config.ridge_alphas:
        model = Ridge(alpha=alpha).fit(train.image, train.text)
        score = primary_score(evaluate_pairs(mapped(model, validation), validation.text, validation, config.ks))
        if best is None or score > best[0]:
            best = (score, alpha, model)
    assert best is not None  # config validation guarantees at least one alpha
    score, alpha, model = best
    return {"alpha": alpha, "validation_recall@10": score, "heldout": evaluate_pairs(mapped(model, heldout), heldout.text, heldout, config.ks)}
