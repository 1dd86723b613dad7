"""Encoders against tiny random checkpoints; the real built-ins only under -m integration."""
from __future__ import annotations

import os

# No hub is reachable here; set before transformers is imported anywhere below.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from tests.unit import _tiny_models as tiny
from vitrina.schemas import EncoderInfo, Modality
from vitrina.training.encoders import (
    BUILTIN_ENCODERS,
    EncoderSpecError,
    ImageEncoder,
    TextEncoder,
    create_encoder,
)
from vitrina.training.encoders.pixels import ResizeCropNormalise

TEXTS = ["a photo of a cat", "the red house", "stock market report of the green car", ""]


def _images(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(40, 32), (64, 80), (33, 33), (120, 50)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes[:n]]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "vit": tiny.save_tiny_vit(root / "vit"),
        "dinov2": tiny.save_tiny_dinov2(root / "dinov2"),
        "bert": tiny.save_tiny_bert(root / "bert"),
        "clip": tiny.save_tiny_clip(root / "clip"),
    }


# (model dir, modality asked for, expected dim)
IMAGE_CASES = {"vit": ("vit", None, 32), "dinov2": ("dinov2", None, 32), "clip-image": ("clip", Modality.IMAGE, 16)}
TEXT_CASES = {"bert": ("bert", None, 32), "clip-text": ("clip", Modality.TEXT, 16)}


@pytest.fixture(scope="module")
def encoders(tiny_dirs) -> dict[str, object]:
    cases = {**IMAGE_CASES, **TEXT_CASES}
    return {
        name: create_encoder(f"hf:{tiny_dirs[model]}", modality=modality, device="cpu")
        for name, (model, modality, _) in cases.items()
    }


def _assert_unit_rows(vectors: np.ndarray, dim: int, rows: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (rows, dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_image_encoder_shapes_norms_and_determinism(encoders, case):
    encoder = encoders[case]
    assert isinstance(encoder, ImageEncoder) and encoder.modality is Modality.IMAGE
    assert encoder.dim == IMAGE_CASES[case][2]
    images = _images(4)
    first = encoder.encode(images)
    _assert_unit_rows(first, encoder.dim, 4)
    np.testing.assert_array_equal(first, encoder.encode(images))
    assert encoder.encode([]).shape == (0, encoder.dim)


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_image_encoder_batching_invariance_and_distinct_inputs(encoders, case):
    encoder = encoders[case]
    a, b = _images(2)
    together = encoder.encode([a, b])
    apart = np.concatenate([encoder.encode([a]), encoder.encode([b])])
    np.testing.assert_allclose(together, apart, atol=1e-5)
    assert float(together[0] @ together[1]) < 0.999


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_preprocess_is_picklable_and_matches_encode(encoders, case):
    encoder = encoders[case]
    image = _images(1)[0]
    pixels = encoder.preprocess(image)
    assert pixels.dtype == np.float32 and pixels.shape == (3, tiny.IMAGE_SIZE, tiny.IMAGE_SIZE)
    # Worker processes receive the preprocessor alone, not the model.
    shipped = pickle.loads(pickle.dumps(encoder.preprocess))
    np.testing.assert_array_equal(shipped(image), pixels)
    assert len(pickle.dumps(encoder.preprocess)) < 100_000
    np.testing.assert_allclose(encoder.encode_pixels(pixels[None]), encoder.encode([image]), atol=1e-6)


@pytest.mark.parametrize("case", list(TEXT_CASES))
def test_text_encoder_shapes_norms_determinism_batching(encoders, case):
    encoder = encoders[case]
    assert isinstance(encoder, TextEncoder) and encoder.modality is Modality.TEXT
    assert encoder.dim == TEXT_CASES[case][2]
    together = encoder.encode(TEXTS)
    _assert_unit_rows(together, encoder.dim, len(TEXTS))
    np.testing.assert_array_equal(together, encoder.encode(TEXTS))
    apart = np.concatenate([encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, apart, atol=1e-5)
    assert float(together[0] @ together[1]) < 0.999
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_text_batch_size_does_not_change_vectors(tiny_dirs):
    small_batches = create_encoder(f"hf:{tiny_dirs['bert']}", device="cpu")
    small_batches.batch_size = 1
    default = create_encoder(f"hf:{tiny_dirs['bert']}", device="cpu")
    np.testing.assert_allclose(small_batches.encode(TEXTS), default.encode(TEXTS), atol=1e-5)


def test_clip_towers_share_one_space(encoders):
    image, text = encoders["clip-image"], encoders["clip-text"]
    assert image.dim == text.dim == 16
    assert image.fingerprint != text.fingerprint
    similarity = image.encode(_images(1)) @ text.encode(["a cat"]).T
    assert similarity.shape == (1, 1)


def test_info_is_a_valid_manifest_entry(encoders):
    for encoder in encoders.values():
        info = encoder.info()
        assert isinstance(info, EncoderInfo)
        assert 16 <= len(info.fingerprint) <= 24
        EncoderInfo.model_validate_json(info.model_dump_json())


def test_fingerprint_is_stable_and_path_independent(tiny_dirs, encoders, tmp_path):
    copy = shutil.copytree(tiny_dirs["vit"], tmp_path / "vit-copy")
    assert create_encoder(f"hf:{copy}").fingerprint == encoders["vit"].fingerprint


@pytest.mark.parametrize("model", ["vit", "bert"])
def test_fingerprint_changes_when_one_weight_changes(tiny_dirs, tmp_path, model):
    original = create_encoder(f"hf:{tiny_dirs[model]}", device="cpu")
    changed_dir = shutil.copytree(tiny_dirs[model], tmp_path / model)
    weights_file = changed_dir / "model.safetensors"
    weights = load_file(weights_file)
    name = sorted(weights)[-1]
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 1e-3
    save_file(weights, weights_file, metadata={"format": "pt"})
    assert create_encoder(f"hf:{changed_dir}", device="cpu").fingerprint != original.fingerprint


def test_fingerprint_changes_with_preprocessing(tiny_dirs, tmp_path, encoders):
    changed_dir = shutil.copytree(tiny_dirs["vit"], tmp_path / "vit")
    config_file = changed_dir / "preprocessor_config.json"
    config_file.write_text(config_file.read_text().replace('"do_normalize": true', '"do_normalize": false'))
    assert create_encoder(f"hf:{changed_dir}").fingerprint != encoders["vit"].fingerprint


def test_checkpoint_missing_used_weights_is_refused(tiny_dirs, tmp_path):
    broken = shutil.copytree(tiny_dirs["bert"], tmp_path / "bert")
    weights = load_file(broken / "model.safetensors")
    del weights["encoder.layer.0.attention.self.query.weight"]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(EncoderSpecError, match="lacks 1 weights"):
        create_encoder(f"hf:{broken}")


@pytest.mark.parametrize(
    ("spec", "modality", "message"),
    [
        ("nonsense", None, "expected 'builtin:<name>'"),
        ("foo:bar", None, "unknown prefix 'foo'"),
        ("builtin:resnet", None, "builtin:efficientnet-lite0, builtin:minilm-l6"),
        ("builtin:minilm-l6", Modality.IMAGE, "gives text vectors, but modality .image. was asked for"),
        ("builtin:efficientnet-lite0", "text", "gives image vectors"),
        ("builtin:minilm-l6", "audio", "unknown modality"),
        ("ckpt:/some/model.pt", None, "written by `vitrina train`"),
    ],
)
def test_bad_specs_raise_named_errors(spec, modality, message):
    with pytest.raises(EncoderSpecError, match=message) as caught:
        create_encoder(spec, modality=modality)
    assert spec in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_hf_modality_mismatches(tiny_dirs):
    with pytest.raises(EncoderSpecError, match="is a text model, not an image model"):
        create_encoder(f"hf:{tiny_dirs['bert']}", modality=Modality.IMAGE)
    with pytest.raises(EncoderSpecError, match="gives image vectors"):
        create_encoder(f"hf:{tiny_dirs['vit']}", modality=Modality.TEXT)
    with pytest.raises(EncoderSpecError, match="pass modality"):
        create_encoder(f"hf:{tiny_dirs['clip']}")


def test_hf_unsupported_vision_model_is_named(tmp_path):
    import transformers

    transformers.ResNetConfig(hidden_sizes=[8], depths=[1], embedding_size=8).save_pretrained(tmp_path)
    with pytest.raises(EncoderSpecError, match="model_type 'resnet' is not supported"):
        create_encoder(f"hf:{tmp_path}")


def test_hf_missing_model_is_a_spec_error(tmp_path):
    with pytest.raises(EncoderSpecError, match="cannot load its config"):
        create_encoder(f"hf:{tmp_path / 'no-such-model'}")


def test_builtin_table_describes_every_builtin():
    assert set(BUILTIN_ENCODERS) == {"efficientnet-lite0", "minilm-l6"}
    assert all(isinstance(text, str) and text for text in BUILTIN_ENCODERS.values())


def test_resize_crop_normalise_matches_resize_then_crop():
    transform = ResizeCropNormalise(resize_shorter=64, crop=56, mean=(0.5,) * 3, std=(0.5,) * 3)
    rng = np.random.default_rng(1)
    # 200x100 -> 128x64, so the center crop starts on whole pixels (36, 4).
    image = Image.fromarray(rng.integers(0, 256, (100, 200, 3), dtype=np.uint8))
    pixels = transform(image)
    assert pixels.shape == (3, 56, 56) and pixels.dtype == np.float32
    resized = image.resize((128, 64), Image.Resampling.BICUBIC).crop((36, 4, 92, 60))
    reference = np.asarray(resized, dtype=np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(pixels.transpose(1, 2, 0), reference, atol=1e-6)


def test_resize_crop_normalise_handles_extreme_aspect_ratios():
    transform = ResizeCropNormalise(resize_shorter=256, crop=224, mean=(0.5,) * 3, std=(0.5,) * 3)
    for size in [(5000, 3), (3, 5000), (1, 1)]:
        assert transform(Image.new("RGB", size, (10, 20, 30))).shape == (3, 224, 224)


@pytest.mark.integration
def test_builtin_efficientnet_lite0():
    encoder = create_encoder("builtin:efficientnet-lite0", modality=Modality.IMAGE)
    vectors = encoder.encode([Image.new("RGB", (300, 200), (200, 30, 30)), _images(4)[3]])
    _assert_unit_rows(vectors, 1280, 2)
    assert float(vectors[0] @ vectors[1]) < 0.99


@pytest.mark.integration
def test_builtin_minilm_l6_ranks_paraphrase_first():
    encoder = create_encoder("builtin:minilm-l6")
    cat, kitten, stocks = encoder.encode(["a photo of a cat", "a picture of a kitten", "stock market report"])
    assert encoder.dim == 384
    assert float(cat @ kitten) > float(cat @ stocks) + 0.3


def test_letterbox_keeps_the_whole_image_centred_on_white():
    from vitrina.training.encoders.pixels import LetterboxNormalise

    transform = LetterboxNormalise(size=32, mean=(0.0,) * 3, std=(1.0,) * 3)
    pixels = transform(Image.new("RGB", (200, 50), (0, 0, 0)))  # 4:1 black banner -> 32x8 band
    assert pixels.shape == (3, 32, 32)
    column = pixels[0, :, 16]
    assert np.allclose(column[:12], 1.0) and np.allclose(column[20:], 1.0)  # white padding
    assert np.allclose(column[13:19], 0.0)  # the banner, not cropped away
    assert np.allclose(pixels[0, 16, :], 0.0)  # full width kept
    for size in [(5000, 3), (3, 5000), (1, 1)]:
        assert transform(Image.new("RGB", size, (10, 20, 30))).shape == (3, 32, 32)
