"""The align recipe: toy separable problem, picture-grouped split, frozen features, bundle -> ckpt."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.fakes import FakeFactory
from vitrina.schemas import Modality
from vitrina.training.checkpoint import load_joint_checkpoint, read_heldout_ids
from vitrina.training.encoders.ckpt import create_ckpt_encoder
from vitrina.training.features import current_version_dir, load_frozen_features, read_items
from vitrina.training.data.paired_features import build_pairs, duplicate_groups, split_by_picture
from vitrina.training.recipes.align import AlignConfig, AlignConfigError, train_align
from vitrina.training.recipes.align_task import AlignTask, fit_heads
from vitrina.training.recipes.align_scores import evaluate_pairs, primary_score, ridge_baseline

@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Tiny matrices: a second thread only adds synchronisation, and on a shared machine it waits.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


FAST = dict(epochs=15, patience=15, batch_size=32, dim=8, hidden_dim=16, lr=1e-2, log_every=100)


def _toy_pairs(n=240, concepts=12, seed=0):
    """Each pair shows one of `concepts`; image and text see it through different random maps plus noise."""
    rng = np.random.default_rng(seed)
    concept = rng.integers(0, concepts, size=n)
    latent = np.eye(concepts)[concept] + 0.05 * rng.normal(size=(n, concepts))
    image = latent @ rng.normal(size=(concepts, 24)) + 0.1 * rng.normal(size=(n, 24))
    text = latent @ rng.normal(size=(concepts, 16)) + 0.1 * rng.normal(size=(n, 16))
    texts = [f"text {i}" for i in range(n)]
    return build_pairs([str(i) for i in range(n)], image.astype(np.float32), text.astype(np.float32), texts,
                       [str(c % 3) for c in concept], duplicate_threshold=0.9999)


def test_toy_training_lowers_loss_and_raises_recall():
    pairs = _toy_pairs()
    config = AlignConfig(**FAST, heads=("linear",))
    split = split_by_picture(pairs, config.heldout, config.validation, seed=0)
    train, validation = pairs.subset(split.train), pairs.subset(split.validation)
    torch.manual_seed(0)
    untrained = AlignTask(*_head_configs(pairs, config), config.init_temperature)
    before = primary_score(evaluate_pairs(*untrained.embed(validation), validation, (1, 10)))
    fitted = fit_heads(train, validation, "linear", config, seed=0)
    losses = [h["train_loss"] for h in fitted.history]
    assert losses[-1] < 0.5 * losses[0]
    assert fitted.best_validation > before + 0.2
    # The returned task holds the best epoch's weights.
    after = primary_score(evaluate_pairs(*fitted.task.embed(validation), validation, (1, 10)))
    assert after == pytest.approx(fitted.best_validation)


def test_training_is_deterministic_given_the_seed():
    pairs = _toy_pairs(n=120)
    config = AlignConfig(**{**FAST, "epochs": 3}, heads=("mlp",))
    split = split_by_picture(pairs, config.heldout, config.validation, seed=3)
    train, validation = pairs.subset(split.train), pairs.subset(split.validation)
    one = fit_heads(train, validation, "mlp", config, seed=3)
    two = fit_heads(train, validation, "mlp", config, seed=3)
    assert [h["train_loss"] for h in one.history] == [h["train_loss"] for h in two.history]
    for a, b in zip(one.task.state_dict().values(), two.task.state_dict().values()):
        assert torch.equal(a, b)


def _head_configs(pairs, config):
    from vitrina.training.heads import HeadConfig

    return (HeadConfig(pairs.image.shape[1], config.dim, "linear"), HeadConfig(pairs.text.shape[1], config.dim, "linear"))


def test_duplicate_groups_are_connected_components():
    base = np.eye(4, dtype=np.float32)
    vectors = np.stack([base[0], base[1], base[0], base[2], base[1], base[0]])
    assert duplicate_groups(vectors, 0.9999, chunk_size=2).tolist() == [0, 1, 0, 2, 1, 0]


def test_split_keeps_pictures_together_and_is_seeded():
    pairs = _toy_pairs(n=200)
    # Make every fifth item a copy of the previous picture.
    pairs.image[5::5] = pairs.image[4::5][: len(pairs.image[5::5])]
    pairs.labels[:, 0] = duplicate_groups(pairs.image, 0.9999)
    split = split_by_picture(pairs, 0.2, 0.1, seed=7)
    parts = [set(pairs.labels[split.train, 0]), set(pairs.labels[split.validation, 0]), set(pairs.labels[split.heldout, 0])]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(split.sizes().values()) == len(pairs)
    again = split_by_picture(pairs, 0.2, 0.1, seed=7)
    assert np.array_equal(split.heldout, again.heldout)
    assert not np.array_equal(split.heldout, split_by_picture(pairs, 0.2, 0.1, seed=8).heldout)


def test_ridge_baseline_reports_both_scorings():
    pairs = _toy_pairs()
    config = AlignConfig(**FAST)
    split = split_by_picture(pairs, 0.2, 0.1, seed=0)
    report = ridge_baseline(pairs.subset(split.train), pairs.subset(split.validation), pairs.subset(split.heldout), config)
    assert report["alpha"] in config.ridge_alphas
    assert set(report["heldout"]) == {"strict", "dedup"}
    assert 0 <= report["heldout"]["dedup"]["text_to_image"]["recall@10"] <= 1


@pytest.mark.parametrize(
    ("options", "field"),
    [({"heldout": 0.9}, "heldout"), ({"batch_size": 1}, "batch_size"), ({"heads": ("cnn",)}, "heads"),
     ({"epochs": 0}, "epochs"), ({"lr": 0.0}, "lr")],
)
def test_config_errors_name_the_field(options, field):
    with pytest.raises(AlignConfigError, match=f"^{field}:"):
        AlignConfig(**options)


def test_frozen_features_come_from_the_bundle_else_the_cache(tiny_bundle_root, tmp_path):
    version_dir = current_version_dir(tiny_bundle_root / "tiny")
    factory = FakeFactory()
    ids = ["animals-00", "plants-03", "no-such-item"]
    text = factory("fake:text", modality=Modality.TEXT)
    from_bundle = load_frozen_features(version_dir, ids, text, cache_dir=tmp_path)
    assert from_bundle.ids == ids[:2] and from_bundle.sources == {"bundle:text": 2}
    assert from_bundle.missing == {"no-such-item": "not in items.parquet"} and text.calls == 0
    # Another spec is not what the bundle holds: computed once, then read from the cache.
    other = factory("fake:other-text", modality=Modality.TEXT)
    computed = load_frozen_features(version_dir, ids[:2], other, cache_dir=tmp_path, progress=False)
    assert computed.sources == {"computed": 2} and other.calls == 1
    cached = load_frozen_features(version_dir, ids[:2], other, cache_dir=tmp_path, progress=False)
    assert cached.sources == {"cache": 2} and other.calls == 1
    np.testing.assert_array_equal(cached.vectors, computed.vectors)
    np.testing.assert_allclose(computed.vectors, from_bundle.vectors, atol=1e-6)


def test_bundle_to_checkpoint_and_the_ckpt_encoder_reproduces_training(tiny_bundle_root, tmp_path):
    factory = FakeFactory()
    config = AlignConfig(**{**FAST, "epochs": 5}, heldout=0.25, validation=0.15, seeds=2)
    result = train_align(tiny_bundle_root / "tiny", tmp_path / "ckpt", "fake:image", "fake:text", config,
                         cache_dir=tmp_path / "cache", encoder_factory=factory)
    report = result.report
    assert report["data"]["pairs"] == 60 and len(report["runs"]) == 2
    assert set(report["summary"]["selected"]["strict"]) == {"text_to_image", "image_to_text"}
    assert report["summary"]["ridge"]["dedup"]["text_to_image"]["recall@10"]["std"] >= 0
    heldout_ids = read_heldout_ids(result.checkpoint)
    assert len(heldout_ids) == report["runs"][[r["seed"] for r in report["runs"]].index(report["checkpoint_seed"])]["split"]["heldout"]

    # Encode the held-out items from their raw images and texts through ckpt: encoders ...
    version_dir = current_version_dir(tiny_bundle_root / "tiny")
    towers = {m: create_ckpt_encoder(f"ckpt:{result.checkpoint}", str(result.checkpoint), m, None, base_factory=factory)
              for m in Modality}
    image = load_frozen_features(version_dir, heldout_ids, towers[Modality.IMAGE], progress=False)
    text = load_frozen_features(version_dir, heldout_ids, towers[Modality.TEXT], progress=False)
    assert image.sources == {"computed": len(heldout_ids)} and image.ids == text.ids == heldout_ids
    # ... and the ranking gives the numbers recorded at training time.
    base_image = load_frozen_features(version_dir, heldout_ids, factory("fake:image", modality=Modality.IMAGE))
    base_text = load_frozen_features(version_dir, heldout_ids, factory("fake:text", modality=Modality.TEXT))
    items = {r["id"]: r["text"] for r in read_items(version_dir).to_pylist()}
    pairs = build_pairs(heldout_ids, base_image.vectors, base_text.vectors, [items[i] for i in heldout_ids],
                        [None] * len(heldout_ids), config.duplicate_threshold)
    reproduced = evaluate_pairs(image.vectors, text.vectors, pairs, config.ks)
    recorded = report["checkpoint_heldout"]
    for scoring in ("strict", "dedup"):
        for direction in ("text_to_image", "image_to_text"):
            for metric, value in recorded[scoring][direction].items():
                assert reproduced[scoring][direction][metric] == pytest.approx(value), (scoring, direction, metric)
    # Same vectors as the training pipeline (head on the bundle's base features).
    checkpoint = load_joint_checkpoint(result.checkpoint)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(checkpoint.heads[Modality.TEXT](torch.from_numpy(base_text.vectors)), dim=-1)
    np.testing.assert_allclose(text.vectors, expected.numpy(), atol=1e-6)
