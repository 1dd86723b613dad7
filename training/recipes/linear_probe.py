"""The baseline: logistic regression on the frozen pretrained backbone's pooled features.

Trained on the same rebalanced samples with the same class weights as the
fine-tuned heads, so the comparison isolates what fine-tuning the backbone
adds over a linear read-out of the pretrained features.

The probe also serves as the heads' starting point ("linear probe, then
fine-tune": Kumar et al., "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", ICLR 2022): a random head sends large,
noisy gradients into the pretrained blocks during the first epochs, and on
a CPU budget of a few epochs it would not even catch up with the probe.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

# Logit bias of head outputs the probe never saw (no training sample): never predicted.
_ABSENT_BIAS = -30.0


@dataclass
class LinearProbe:
    scaler: StandardScaler | None
    model: LogisticRegression | None
    constant: int | None = None
    """The only class seen in training, when there was just one."""

    @property
    def c(self) -> float | None:
        return self.model.C if self.model is not None else None

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(len(x), self.constant if self.constant is not None else -1, dtype=np.int64)
        return self.model.predict(self.scaler.transform(x)).astype(np.int64)

    def as_linear(self, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """(weight [num_classes, dim], bias [num_classes]) giving the probe's logits on raw features.

        The scaler is folded in: w . (x - mu) / sigma + b = (w / sigma) . x + (b - w . mu / sigma).
        """
        if self.model is None:
            raise ValueError("a probe fitted on a single class has no linear form")
        coef, intercept = self.model.coef_, self.model.intercept_
        if coef.shape[0] == 1:
            # Binary problems keep one row (the logit of classes_[1]); spread it symmetrically.
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        scale = self.scaler.scale_
        weight = np.zeros((num_classes, coef.shape[1]), dtype=np.float64)
        bias = np.full(num_classes, _ABSENT_BIAS, dtype=np.float64)
        folded = coef / scale
        weight[self.model.classes_] = folded
        bias[self.model.classes_] = intercept - folded @ self.scaler.mean_
        return weight.astype(np.float32), bias.astype(np.float32)


DEFAULT_C_GRID = (0.01, 0.1, 1.0)


def fit_linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    sample_weight: np.ndarray,
    val_x: np.ndarray | None = None,
    val_y: np.ndarray | None = None,
    c_grid: tuple[float, ...] = DEFAULT_C_GRID,
    seed: int = 0,
    max_iter: int = 300,
) -> LinearProbe:
    """Standardise, then multinomial logistic regression; rows with labels < 0 are ignored.

    The inverse regularisation C is picked from `c_grid` by balanced accuracy
    on the validation rows (the first C without them): an untuned probe is a
    weak baseline, and an unregularised one separates the training set so
    completely that, used as a head, it leaves fine-tuning no gradient.
    """
    keep = train_y >= 0
    classes = np.unique(train_y[keep])
    if len(classes) < 2:
        return LinearProbe(None, None, int(classes[0]) if len(classes) else None)
    scaler = StandardScaler().fit(train_x[keep])
    x = scaler.transform(train_x[keep])
    has_val = val_x is not None and val_y is not None and bool((val_y >= 0).any())
    best: tuple[float, LogisticRegression] | None = None
    for c in c_grid if has_val else c_grid[:1]:
        model = LogisticRegression(max_iter=max_iter, C=c, random_state=seed)
        with warnings.catch_warnings():
            # A probe stopped at max_iter is still a fair (if slightly weaker) baseline.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, train_y[keep], sample_weight=sample_weight[keep])
        score = _balanced_accuracy(model, scaler, val_x, val_y) if has_val else 0.0
        if best is None or score > best[0]:
            best = (score, model)
    return LinearProbe(scaler, best[1])


def _balanced_accuracy(model: LogisticRegression, scaler: StandardScaler, x: np.ndarray, y: np.ndarray) -> float:
    labelled = y >= 0
    predicted = model.predict(scaler.transform(x[labelled]))
    truth = y[labelled]
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))
