"""The classify recipe on a tiny random ViT: staging, losses, early stopping, a toy run, checkpoints, CLI."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from tests.unit import _tiny_models as tiny
from tests.unit.training.test_fashion_mnist import write_tiny_fashion_mnist
from vitrina.schemas import ITEMS_SCHEMA
from vitrina.training.augment import IDENTITY, AugmentOp
from vitrina.training.backbone_ckpt import CKPT_FILE, build_preprocess, load_backbone_encoder, preprocess_override, save_backbone_checkpoint
from vitrina.training.cli_classify import app
from vitrina.training.data.labelled_images import DatasetError, LabelledImages, bundle_datasets
from vitrina.training.encoders import EncoderSpecError, create_encoder
from vitrina.training.encoders.pixels import LetterboxNormalise
from vitrina.training.rebalance import RebalanceConfig
from vitrina.training.recipes.classify import ClassifyConfig, ClassifyConfigError, resolve_preprocess, run_classify
from vitrina.training.recipes.classify_metrics import classification_metrics, mean_std, neighbour_precision
from vitrina.training.recipes.classify_task import ClassifyTask, FitConfig, HeadSpec, MultiHeadClassifier, fit
from vitrina.training.recipes.prefix_cache import FeatureCache, SampleRef, materialise_prefix
from vitrina.training.recipes.staged import stage_encoder

COLOURS = ("red", "green", "blue")


def toy_images(counts: tuple[int, ...], seed: int, prefix: str) -> LabelledImages:
    """Noise images whose dominant channel is the class: separable, but not by the untrained heads."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    images = rng.integers(0, 90, (len(labels), 32, 32, 3)).astype(np.uint8)
    images[np.arange(len(labels)), :, :, labels] += 150
    # A second attribute, missing for every fourth item: exercises multi-head losses with gaps.
    parity = np.where(np.arange(len(labels)) % 4 == 0, -1, np.arange(len(labels)) % 2)
    return LabelledImages.from_arrays(
        images, {"colour": (labels, COLOURS), "parity": (parity, ("even", "odd"))}, id_prefix=f"{prefix}/"
    )


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory) -> Path:
    return tiny.save_tiny_vit(tmp_path_factory.mktemp("classify") / "vit")


@pytest.fixture(scope="module")
def toy_run(vit_dir, tmp_path_factory):
    # Imbalanced on purpose (40/12/6, median 12): class 0 is majority and undersampled, class 2 gets augmented copies.
    train = toy_images((40, 12, 6), seed=0, prefix="train")
    test = toy_images((10, 10, 10), seed=1, prefix="test")
    config = ClassifyConfig(
        heads=(HeadSpec("colour", 0.7), HeadSpec("parity", 0.3)),
        encoder=f"hf:{vit_dir}",
        freeze_percent=50,
        seeds=(0,),
        rebalance=RebalanceConfig(min_count=2, majority_keep=2.0, minority_target=1.0),
        fit=FitConfig(max_epochs=4, batch_size=16, lr=1e-2, backbone_lr=1e-3, patience=4, progress=False),
        val_fraction=0.2,
        # Random heads: the run must learn from chance level, not start from the probe.
        head_init="random",
        cache_dir=str(tmp_path_factory.mktemp("prefix-cache")),
        progress=False,
    )
    return run_classify(train, test, config), train, test


# --- staging ------------------------------------------------------------------------------------


def test_staged_backbone_reproduces_the_encoder(vit_dir):
    encoder = create_encoder(f"hf:{vit_dir}", device="cpu")
    backbone = stage_encoder(encoder)
    assert backbone.num_blocks == 2 and backbone.frozen_blocks(80) == 2 and backbone.frozen_blocks(50) == 1
    pixels = torch.from_numpy(np.stack([encoder.preprocess(Image.new("RGB", (40, 30), c)) for c in ("red", "navy")]))
    with torch.inference_mode():
        expected = encoder._embed_pixels(pixels)
        for n_frozen in (0, 1, 2):
            torch.testing.assert_close(backbone.suffix(backbone.prefix(pixels, n_frozen), n_frozen), expected)
    backbone.set_frozen(1)
    assert not any(p.requires_grad for p in backbone.stem.parameters())
    assert not any(p.requires_grad for p in backbone.blocks[0].parameters())
    assert all(p.requires_grad for p in backbone.blocks[1].parameters())


def test_prefix_cache_is_reused_and_identical(vit_dir, tmp_path):
    encoder = create_encoder(f"hf:{vit_dir}", device="cpu")
    backbone = stage_encoder(encoder)
    backbone.set_frozen(1)
    data = toy_images((3, 3), seed=2, prefix="c")
    samples = [SampleRef(0, IDENTITY), SampleRef(0, AugmentOp(hflip=True)), SampleRef(4, AugmentOp(blur_sigma=1.0))]
    cache = FeatureCache(tmp_path, {"encoder": encoder.fingerprint, "n_frozen": 1})
    first, valid = materialise_prefix(data, samples, encoder.preprocess, backbone, 1, cache, progress=False)
    assert valid.all() and first.dtype == np.float16 and first.shape[0] == 3
    assert not np.array_equal(first[0], first[1])
    assert len(list(cache.folder.glob("*/*.npy"))) == 3
    # A second pass reads the files: prove it by handing it a backbone that would fail.
    second, _ = materialise_prefix(data, samples, encoder.preprocess, None, 1, cache, progress=False)
    np.testing.assert_array_equal(first, second)


# --- losses, early stopping, metrics -------------------------------------------------------------


def test_loss_is_the_weighted_sum_of_class_weighted_cross_entropies(vit_dir):
    backbone = stage_encoder(create_encoder(f"hf:{vit_dir}", device="cpu"))
    model = MultiHeadClassifier(backbone, 2, {"a": 3, "b": 2})
    weights = {"a": np.array([1.0, 2.0, 0.5]), "b": np.array([1.0, 1.0])}
    task = ClassifyTask(model, {"a": 0.7, "b": 0.3}, weights)
    logits = {"a": torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]), "b": torch.tensor([[1.0, 0.0]] * 3)}
    labels = {"a": torch.tensor([0, 2, -1]), "b": torch.tensor([-1, -1, -1])}
    losses = task.losses(logits, labels)
    by_hand = F.cross_entropy(logits["a"][:2], labels["a"][:2], weight=torch.tensor([1.0, 2.0, 0.5]))
    torch.testing.assert_close(losses["loss_a"], by_hand)
    # A head without any label in the batch contributes zero, not NaN.
    assert float(losses["loss_b"]) == 0.0
    torch.testing.assert_close(losses["loss"], 0.7 * by_hand)


def test_early_stopping_stops_after_patience(vit_dir):
    backbone = stage_encoder(create_encoder(f"hf:{vit_dir}", device="cpu"))
    backbone.set_frozen(2)
    data = toy_images((8, 8), seed=3, prefix="e")
    x, _ = materialise_prefix(data, [SampleRef(i, IDENTITY) for i in range(16)], data_preprocess(vit_dir), backbone, 2,
                              FeatureCache(None, {}), progress=False)
    labels = {"colour": data.codes("colour")}
    task = ClassifyTask(MultiHeadClassifier(backbone, 2, {"colour": 2}), {"colour": 1.0}, {"colour": np.ones(2)})
    # A tolerance no decrease can beat: nothing improves on the starting point (epoch 0).
    result = fit(task, x, labels, x, labels, FitConfig(max_epochs=10, batch_size=8, patience=2, tolerance=1e9, progress=False), seed=0)
    assert (result.epochs, result.best_epoch) == (2, 0)
    assert [h["epoch"] for h in result.history] == [0, 1, 2]


def data_preprocess(vit_dir):
    return create_encoder(f"hf:{vit_dir}", device="cpu").preprocess


def test_classification_metrics_by_hand():
    metrics = classification_metrics(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), retained=[0, 1])
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    # Precision per class 1/2, 2/3 and 0 (class 2 never predicted); recall 1/2, 1, 0.
    assert metrics["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    assert metrics["macro_recall"] == pytest.approx(0.5)
    assert metrics["n_retained"] == 4
    assert metrics["retained_accuracy"] == pytest.approx(3 / 4)
    assert metrics["retained_macro_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics["retained_macro_recall"] == pytest.approx(0.75)
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 3}
    points = np.array([[1, 0], [0.9, 0.1], [0.95, 0.05], [0, 1], [0.1, 0.9], [0.05, 0.95]])
    assert neighbour_precision(points, np.array([0, 0, 0, 1, 1, 1]), k=2) == 1.0


# --- the whole recipe -----------------------------------------------------------------------------


def test_toy_run_learns_and_reports(toy_run):
    result, train, test = toy_run
    report = result.report
    colour = report["runs"][0]["heads"]["colour"]
    # Chance is 1/3; the colour is plain to see once the head is trained.
    assert colour["finetuned"]["accuracy"] >= 0.9
    assert colour["baseline"]["accuracy"] >= 0.9
    history = result.history[0]
    assert history[-1]["train_loss"] < history[1]["train_loss"]
    plan = report["data"]["rebalance"]
    assert plan["majority_classes"] == ["red"] and plan["augmented"] > 0
    assert report["runs"][0]["augmented_samples"] > 0
    assert set(report["summary"]) == {"colour", "parity"}
    assert report["summary"]["colour"]["finetuned"]["accuracy"]["n"] == 1
    assert report["backbone"] == {"blocks": 2, "frozen_blocks": 1, "dim": 32}
    # Parity is scored only on items that have it.
    assert report["runs"][0]["heads"]["parity"]["finetuned"]["n"] == int((test.codes("parity") >= 0).sum())


def test_backbone_checkpoint_reloads_to_identical_embeddings(toy_run, vit_dir, tmp_path):
    result, _, test = toy_run
    images = [test.image(i) for i in (0, 11, 25)]
    expected = result.encoder.encode(images)
    out = save_backbone_checkpoint(tmp_path / "ckpt", result.encoder, base_spec=f"hf:{vit_dir}", training={"recipe": "classify"})
    meta = json.loads((out / CKPT_FILE).read_text())
    assert meta["kind"] == "backbone" and meta["base_spec"] == f"hf:{vit_dir}" and meta["preprocess"] is None
    loaded = load_backbone_encoder(out)
    np.testing.assert_array_equal(loaded.encode(images), expected)
    assert loaded.spec == f"ckpt:{out}"
    base = create_encoder(f"hf:{vit_dir}", device="cpu")
    assert loaded.fingerprint != base.fingerprint
    assert loaded.fingerprint == load_backbone_encoder(out).fingerprint
    # Heads are gone: the checkpoint holds exactly the base network's tensors.
    assert not np.allclose(base.encode(images), expected)


def test_checkpoint_refuses_changed_weights_and_other_kinds(toy_run, vit_dir, tmp_path):
    result, _, _ = toy_run
    out = save_backbone_checkpoint(tmp_path / "ckpt", result.encoder, base_spec=f"hf:{vit_dir}")
    meta = json.loads((out / CKPT_FILE).read_text())
    (out / CKPT_FILE).write_text(json.dumps({**meta, "weights_digest": "0" * 64}))
    with pytest.raises(EncoderSpecError, match="does not match weights_digest"):
        load_backbone_encoder(out)
    (out / CKPT_FILE).write_text(json.dumps({**meta, "kind": "joint"}))
    with pytest.raises(EncoderSpecError, match="kind is 'joint', expected 'backbone'"):
        load_backbone_encoder(out)
    with pytest.raises(EncoderSpecError, match="not a vitrina checkpoint folder"):
        load_backbone_encoder(tmp_path / "empty")


def test_preprocess_override_roundtrips():
    letterbox = LetterboxNormalise(size=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert build_preprocess(preprocess_override(letterbox)) == letterbox


def test_config_errors_name_the_field(vit_dir):
    with pytest.raises(ClassifyConfigError, match=r"classify\.heads: name at least one"):
        ClassifyConfig(heads=())
    with pytest.raises(ClassifyConfigError, match=r"classify\.image_size: must be a multiple of 32"):
        ClassifyConfig(heads=(HeadSpec("a"),), image_size=50)
    with pytest.raises(ClassifyConfigError, match=r"classify\.image_size: .*own image processor"):
        resolve_preprocess(create_encoder(f"hf:{vit_dir}", device="cpu"), 64)
    with pytest.raises(ValueError, match="weight must be positive"):
        HeadSpec.parse("category:0")
    assert HeadSpec.parse("category:0.7") == HeadSpec("category", 0.7)


# --- bundle data and the CLI ----------------------------------------------------------------------


def write_labelled_bundle(root: Path) -> Path:
    """A published bundle version holding items.parquet only, with openclipart-like duplicates."""
    version = root / "versions" / "v1"
    images = root / "images"
    version.mkdir(parents=True)
    images.mkdir()
    rows = []
    for i in range(24):
        category = ("animals", "plants")[i % 2]
        path = images / f"{category}_{i}.png"
        Image.new("RGB", (20, 16), (200, 40 + i, 40) if i % 2 else (40, 200, 40 + i)).save(path)
        meta = {"category": category, "subcategory": f"{category}-{i % 3}" if i % 4 else None, "keywords": ["x", "y"]}
        rows.append({"id": f"{category}/{i}", "image_ref": str(path), "metadata": json.dumps(meta)})
    # The same drawing filed again under a sub-category folder, and an item the indexer could not read.
    rows.append({"id": "animals/sub/0", "image_ref": str(images / "animals_0.png"),
                 "metadata": json.dumps({"category": "animals", "subcategory": "animals-0"})})
    rows.append({"id": "broken", "image_ref": str(images / "missing.png"), "image_status": "unreadable: x",
                 "metadata": json.dumps({"category": "plants"})})
    table = pa.table({
        "id": [r["id"] for r in rows], "title": [None] * len(rows), "text": [None] * len(rows),
        "image_ref": [r["image_ref"] for r in rows], "image_status": [r.get("image_status") for r in rows],
        "metadata": [r["metadata"] for r in rows], "content_hash": [str(i) for i in range(len(rows))],
    }, schema=ITEMS_SCHEMA)
    pq.write_table(table, version / "items.parquet")
    (root / "CURRENT").write_text("v1\n")
    return root


def test_bundle_dataset_labels_dedupes_and_splits_by_group(tmp_path):
    bundle = write_labelled_bundle(tmp_path / "tiny")
    data = LabelledImages.from_bundle(bundle, ["category", "subcategory"])
    assert len(data) == 25 and "broken" not in data.ids
    assert data.attribute("category").classes == ("animals", "plants")
    assert (data.codes("subcategory") == -1).sum() == 6
    train, test = bundle_datasets(bundle, ["category", "subcategory"], test_fraction=0.25, seed=0)
    # The duplicate (same file name, same category) is dropped, keeping the copy with a sub-category.
    assert len(train) + len(test) == 24
    assert "animals/sub/0" in train.ids + test.ids and "animals/0" not in train.ids + test.ids
    assert not set(train.groups) & set(test.groups)
    assert train.image(0).mode == "RGB"
    with pytest.raises(DatasetError, match="'keywords' is list- or object-valued"):
        LabelledImages.from_bundle(bundle, ["keywords"])
    with pytest.raises(DatasetError, match="'colour' has no values; metadata keys are"):
        LabelledImages.from_bundle(bundle, ["colour"])
    with pytest.raises(DatasetError, match="CURRENT is missing"):
        LabelledImages.from_bundle(tmp_path, ["category"])


def test_cli_fine_tunes_fashion_mnist_and_writes_a_loadable_checkpoint(vit_dir, tmp_path):
    root = write_tiny_fashion_mnist(tmp_path / "fm", n_train=60, n_test=20)
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(app, [
        "classify", "--fashion-mnist", str(root), "--encoder", f"hf:{vit_dir}", "--out", str(out),
        "--seeds", "2", "--epochs", "1", "--freeze", "50", "--min-count", "1", "--batch-size", "16", "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    assert "seconds/epoch" in result.output and "[label]" in result.output
    report = json.loads((out / "report.json").read_text())
    assert len(report["runs"]) == 2 and report["summary"]["label"]["finetuned"]["accuracy"]["n"] == 2
    assert load_backbone_encoder(out).dim == 32
    bad = CliRunner().invoke(app, ["classify", "--out", str(out)])
    assert bad.exit_code != 0 and "exactly one of --bundle or --fashion-mnist" in bad.output


@pytest.mark.integration
def test_efficientnet_staging_and_checkpoint_at_64px(tmp_path):
    encoder = create_encoder("builtin:efficientnet-lite0", device="cpu")
    backbone = stage_encoder(encoder)
    assert (backbone.num_blocks, backbone.frozen_blocks(80), backbone.frozen_blocks(50)) == (16, 13, 8)
    preprocess, override = resolve_preprocess(encoder, 64)
    images = [Image.new("RGB", (50, 30), "red"), Image.new("RGB", (20, 40), "navy")]
    pixels = torch.from_numpy(np.stack([preprocess(im) for im in images]))
    assert pixels.shape == (2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(backbone.suffix(backbone.prefix(pixels, 13), 13), encoder._embed_pixels(pixels))
        backbone.blocks[15].block._project_conv.weight.mul_(1.01)
    out = save_backbone_checkpoint(tmp_path / "ckpt", encoder, "builtin:efficientnet-lite0", preprocess=override)
    loaded = load_backbone_encoder(out)
    assert loaded.preprocess == override and loaded.preprocessing()["size"] == 64
    np.testing.assert_array_equal(loaded.encode(images), encoder.encode_pixels(pixels.numpy()))
    assert loaded.fingerprint != create_encoder("builtin:efficientnet-lite0").fingerprint


def test_linear_probe_folds_into_a_linear_head():
    from vitrina.training.recipes.linear_probe import fit_linear_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 5)) * [1, 10, 0.1, 1, 1] + [0, 5, -3, 0, 0]
    for n_classes in (2, 3):
        y = (x[:, 0] > 0).astype(int) + (n_classes == 3) * (x[:, 3] > 1).astype(int)
        probe = fit_linear_probe(x, y, np.ones(len(y)))
        # Head size 4: the unseen output gets a bias that keeps it from ever winning.
        weight, bias = probe.as_linear(4)
        logits = x @ weight.T + bias
        np.testing.assert_array_equal(logits.argmax(axis=1), probe.predict(x))
        assert bias[3] < -10
