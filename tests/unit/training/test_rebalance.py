"""Rebalancing plans on synthetic label counts, augmentation ops, and group splits."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from vitrina.training.augment import IDENTITY, AugmentConfig, AugmentOp, apply_augment, draw_augment, gaussian_kernel1d
from vitrina.training.data.splits import group_stratified_split, stratified_subsample
from vitrina.training.rebalance import (
    REBALANCE_PRESETS,
    RebalanceConfig,
    RebalanceConfigError,
    class_counts,
    class_weights,
    majority_classes,
    plan_rebalance,
    select_classes,
)

# class -> count; median of the kept ones (min_count=3 drops class 5) is 20.
COUNTS = {0: 100, 1: 40, 2: 20, 3: 10, 4: 5, 5: 2}


def _labels(counts: dict[int, int], seed: int = 0, unlabelled: int = 7) -> np.ndarray:
    labels = np.concatenate([np.full(n, c) for c, n in counts.items()] + [np.full(unlabelled, -1)])
    return np.random.default_rng(seed).permutation(labels).astype(np.int64)


def test_class_selection_by_min_count_and_quantile():
    counts = {0: 1, 1: 2, 2: 3, 3: 10, 4: 20}
    assert select_classes(counts, min_count=3).tolist() == [2, 3, 4]
    # The lower 0.5 quantile of [1, 2, 3, 10, 20] is 3: a class at the threshold stays.
    assert select_classes(counts, min_quantile=0.5).tolist() == [2, 3, 4]
    assert select_classes(counts, min_count=11, min_quantile=0.5).tolist() == [4]
    assert select_classes({}).tolist() == []


def test_majority_is_above_twice_the_median():
    majority, median = majority_classes(COUNTS, np.array([0, 1, 2, 3, 4]))
    assert median == 20.0
    # 40 is exactly 2x the median: not majority.
    assert majority.tolist() == [0]


def test_moderate_plan_counts():
    labels = _labels(COUNTS)
    plan = plan_rebalance(labels, RebalanceConfig(min_count=3), seed=0)
    assert plan.kept_classes.tolist() == [0, 1, 2, 3, 4]
    assert plan.dropped_classes.tolist() == [5]
    assert plan.majority_classes.tolist() == [0]
    assert plan.counts_before == {0: 100, 1: 40, 2: 20, 3: 10, 4: 5, 5: 2}
    # Majority undersampled to 2x median; minority filled to the median with augmented copies.
    assert plan.counts_after == {0: 40, 1: 40, 2: 20, 3: 20, 4: 20}
    real = plan.copies == 0
    assert class_counts(plan.labels(labels)[real]) == {0: 40, 1: 40, 2: 20, 3: 10, 4: 5}
    assert np.all(plan.labels(labels) >= 0)


def test_undersampling_draws_distinct_rows_of_the_class():
    labels = _labels(COUNTS)
    plan = plan_rebalance(labels, RebalanceConfig(min_count=3), seed=3)
    rows = plan.rows[(plan.copies == 0) & (labels[plan.rows] == 0)]
    assert len(rows) == len(set(rows.tolist())) == 40
    assert set(rows.tolist()) <= set(np.flatnonzero(labels == 0).tolist())


def test_copies_are_round_robin_and_capped():
    labels = _labels({0: 40, 1: 20, 2: 2})
    plan = plan_rebalance(labels, RebalanceConfig(max_copies=3, majority_keep=None), seed=0)
    # Class 2: 2 real samples, target 20 (median), at most 3 copies each -> 2 + 6.
    assert plan.counts_after[2] == 8
    copies = plan.copies[(labels[plan.rows] == 2) & (plan.copies > 0)]
    assert sorted(copies.tolist()) == [1, 1, 2, 2, 3, 3]
    # Every real sample of class 2 gets its k-th copy before any gets its (k+1)-th.
    assert copies.tolist() == [1, 1, 2, 2, 3, 3]


def test_strong_plan_undersamples_harder_then_augments_the_majority():
    labels = _labels(COUNTS)
    config = replace(REBALANCE_PRESETS["strong"], min_count=3)
    plan = plan_rebalance(labels, config, seed=0)
    majority = labels[plan.rows] == 0
    assert int((majority & (plan.copies == 0)).sum()) == 20
    assert int((majority & (plan.copies > 0)).sum()) == 20
    assert plan.counts_after == {0: 40, 1: 40, 2: 20, 3: 20, 4: 20}


def test_none_preset_keeps_everything_kept():
    labels = _labels(COUNTS)
    plan = plan_rebalance(labels, REBALANCE_PRESETS["none"])
    assert plan.counts_after == COUNTS
    assert not plan.copies.any()


def test_plans_are_deterministic_per_seed():
    labels = _labels(COUNTS)
    a = plan_rebalance(labels, RebalanceConfig(min_count=3), seed=1)
    b = plan_rebalance(labels, RebalanceConfig(min_count=3), seed=1)
    c = plan_rebalance(labels, RebalanceConfig(min_count=3), seed=2)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.copies, b.copies)
    assert not np.array_equal(a.rows, c.rows)


def test_class_weights_are_inverse_frequency():
    labels = np.array([0] * 6 + [1] * 3 + [3] * 1 + [-1] * 4)
    weights = class_weights(labels, num_classes=4)
    # n / (k * n_c) with n = 10 labelled, k = 3 classes present; class 2 absent -> 0.
    np.testing.assert_allclose(weights, [10 / 18, 10 / 9, 0.0, 10 / 3])
    present = labels[labels >= 0]
    expected = compute_class_weight("balanced", classes=np.array([0, 1, 3]), y=present)
    np.testing.assert_allclose(weights[[0, 1, 3]], expected)
    # Balanced labels weigh 1 each.
    np.testing.assert_allclose(class_weights(np.array([0, 1, 2, 0, 1, 2]), 3), [1, 1, 1])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        class_weights(np.array([0, 2]), 2)


@pytest.mark.parametrize(
    "field, kwargs",
    [("min_count", {"min_count": 0}), ("min_quantile", {"min_quantile": 1.0}), ("majority_keep", {"majority_keep": 0}),
     ("max_copies", {"max_copies": -1}), ("majority_factor", {"majority_factor": 0.5})],
)
def test_config_errors_name_the_field(field, kwargs):
    with pytest.raises(RebalanceConfigError, match=rf"rebalance\.{field}:"):
        RebalanceConfig(**kwargs)


def test_labels_must_be_integers():
    with pytest.raises(ValueError, match="1-D integer array"):
        plan_rebalance(np.array([0.0, 1.0]))


# --- augmentation -------------------------------------------------------------------------------


def _pixels(seed: int = 0, shape=(3, 16, 12)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_flips_are_exact_and_involutive():
    x = _pixels()
    h = apply_augment(x, AugmentOp(hflip=True))
    v = apply_augment(x, AugmentOp(vflip=True))
    np.testing.assert_array_equal(h, x[:, :, ::-1])
    np.testing.assert_array_equal(v, x[:, ::-1, :])
    np.testing.assert_array_equal(apply_augment(h, AugmentOp(hflip=True)), x)
    assert h.shape == v.shape == x.shape and h.dtype == np.float32
    np.testing.assert_array_equal(apply_augment(x, IDENTITY), x)


def test_blur_keeps_flat_images_and_smooths_noise():
    flat = np.full((3, 10, 10), 0.25, dtype=np.float32)
    np.testing.assert_allclose(apply_augment(flat, AugmentOp(blur_sigma=1.2)), flat, atol=1e-6)
    noise = _pixels(1, (3, 32, 32))
    blurred = apply_augment(noise, AugmentOp(blur_sigma=1.0))
    assert blurred.shape == noise.shape
    assert blurred.std() < 0.6 * noise.std()
    # Normalised kernel: the image mean is (nearly) preserved with reflected borders.
    assert abs(blurred.mean() - noise.mean()) < 0.05
    assert gaussian_kernel1d(1.0).sum().item() == pytest.approx(1.0)


def test_draws_are_deterministic_and_never_identity():
    config = AugmentConfig()
    ops = [draw_augment(0, "item-7", k, config) for k in range(1, 40)]
    assert ops == [draw_augment(0, "item-7", k, config) for k in range(1, 40)]
    assert all(not op.is_identity for op in ops)
    assert len({op.key for op in ops}) > 5
    assert all(op.blur_sigma == 0 or 0.5 <= op.blur_sigma <= 1.5 for op in ops)
    assert draw_augment(0, "item-7", 1) != draw_augment(0, "item-8", 1) or draw_augment(0, "item-7", 2) != draw_augment(0, "item-8", 2)
    with pytest.raises(ValueError, match="copy must be >= 1"):
        draw_augment(0, "x", 0)
    with pytest.raises(ValueError, match="p_blur"):
        AugmentConfig(p_blur=2.0)


# --- splits -------------------------------------------------------------------------------------


def test_group_split_keeps_groups_together_and_stratifies():
    labels = np.array([0] * 40 + [1] * 20 + [2] * 1)
    groups = [f"g{i // 2}" for i in range(60)] + ["lonely"]
    test, rest = group_stratified_split(labels, groups, [0.25], seed=0)
    assert sorted(np.concatenate([test, rest]).tolist()) == list(range(61))
    test_groups = {groups[i] for i in test}
    assert not test_groups & {groups[i] for i in rest}
    # 20 groups of class 0 -> 5 to test; 10 of class 1 -> round(2.5) = 2; the single group stays in training.
    assert np.bincount(labels[test], minlength=3).tolist() == [10, 4, 0]
    again = group_stratified_split(labels, groups, [0.25], seed=0)
    np.testing.assert_array_equal(test, again[0])


def test_stratified_subsample_keeps_proportions():
    labels = np.repeat(np.arange(4), [100, 100, 50, 50])
    rows = stratified_subsample(labels, 60, seed=0)
    assert np.bincount(labels[rows]).tolist() == [20, 20, 10, 10]
    assert len(set(rows.tolist())) == 60
