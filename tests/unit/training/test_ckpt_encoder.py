"""`ckpt:` joint checkpoints over tiny hf: bases, through create_encoder."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from tests.unit import _tiny_models as tiny
from vitrina.schemas import EncoderInfo, Modality
from vitrina.training.checkpoint import (
    CKPT_FILE,
    HEADS_FILE,
    CheckpointError,
    TowerRecord,
    load_joint_checkpoint,
    read_heldout_ids,
    save_joint_checkpoint,
)
from vitrina.training.encoders import EncoderSpecError, create_encoder
from vitrina.training.heads import HeadConfig, HeadConfigError, create_head

TEXTS = ["a cat", "the red house", "stock market report", "a blue car and a tree"]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt_bases")
    specs = {Modality.TEXT: f"hf:{tiny.save_tiny_bert(root / 'bert')}", Modality.IMAGE: f"hf:{tiny.save_tiny_vit(root / 'vit')}"}
    encoders = {m: create_encoder(spec, modality=m, device="cpu") for m, spec in specs.items()}
    return specs, encoders


def _images():
    return [Image.new("RGB", (40, 30), colour) for colour in [(200, 30, 30), (30, 200, 30), (30, 30, 200)]]


def _heads(encoders, kind="mlp", dim=8, seed=0):
    torch.manual_seed(seed)
    configs = {m: HeadConfig(e.dim, dim, kind, hidden_dim=16, dropout=0.3) for m, e in encoders.items()}
    return configs, {m: create_head(c) for m, c in configs.items()}


def _save(path, bases, kind="mlp", seed=0, modalities=(Modality.IMAGE, Modality.TEXT)):
    specs, encoders = bases
    configs, heads = _heads(encoders, kind, seed=seed)
    towers = {m: TowerRecord(specs[m], encoders[m].fingerprint, configs[m]) for m in modalities}
    save_joint_checkpoint(path, towers, {m: heads[m] for m in modalities}, training={"note": "test"}, heldout_ids=["a", "b"])
    return heads


def _expected(head, base_vectors):
    with torch.no_grad():
        out = head.eval()(torch.from_numpy(base_vectors)).numpy()
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_towers_equal_base_plus_head_normalised(bases, tmp_path):
    heads = _save(tmp_path / "ckpt", bases)
    _, encoders = bases
    text = create_encoder(f"ckpt:{tmp_path / 'ckpt'}", modality=Modality.TEXT)
    image = create_encoder(f"ckpt:{tmp_path / 'ckpt'}", modality="image")
    assert text.modality is Modality.TEXT and image.modality is Modality.IMAGE and text.dim == image.dim == 8
    text_vectors = text.encode(TEXTS)
    image_vectors = image.encode(_images())
    np.testing.assert_allclose(text_vectors, _expected(heads[Modality.TEXT], encoders[Modality.TEXT].encode(TEXTS)), atol=1e-6)
    np.testing.assert_allclose(image_vectors, _expected(heads[Modality.IMAGE], encoders[Modality.IMAGE].encode(_images())), atol=1e-6)
    assert np.allclose(np.linalg.norm(text_vectors, axis=1), 1, atol=1e-5)
    # Heads run in eval mode: dropout off, the same vectors every call.
    assert np.array_equal(text.encode(TEXTS), text_vectors)
    # The indexer's split path: picklable preprocess in workers, encode_pixels in the main process.
    pixels = np.stack([image.preprocess(im) for im in _images()])
    np.testing.assert_allclose(image.encode_pixels(pixels), image_vectors, atol=1e-6)
    assert image.encode([]).shape == (0, 8) and text.encode([]).shape == (0, 8)
    # The indexer's reuse path: stored base vectors through the head alone give the same vectors.
    assert image.base_fingerprint == encoders[Modality.IMAGE].fingerprint
    np.testing.assert_allclose(image.project(encoders[Modality.IMAGE].encode(_images())), image_vectors, atol=1e-6)


def test_save_load_gives_identical_heads_and_files(bases, tmp_path):
    heads = _save(tmp_path / "ckpt", bases, kind="linear")
    loaded = load_joint_checkpoint(tmp_path / "ckpt")
    assert loaded.dim == 8 and set(loaded.towers) == {Modality.IMAGE, Modality.TEXT}
    features = torch.randn(5, loaded.towers[Modality.TEXT].head.in_dim)
    with torch.no_grad():
        assert torch.equal(loaded.heads[Modality.TEXT](features), heads[Modality.TEXT].eval()(features))
    assert loaded.training == {"note": "test"} and "torch" in loaded.libraries
    assert read_heldout_ids(tmp_path / "ckpt") == ["a", "b"]
    meta = json.loads((tmp_path / "ckpt" / CKPT_FILE).read_text())
    assert meta["kind"] == "joint" and meta["towers"]["image"]["head"]["kind"] == "linear"


def test_fingerprint_stable_across_loads_and_copies_and_sensitive_to_heads(bases, tmp_path):
    _save(tmp_path / "one", bases, seed=0)
    _save(tmp_path / "two", bases, seed=1)
    shutil.copytree(tmp_path / "one", tmp_path / "copy")
    _, encoders = bases
    fingerprints = {name: create_encoder(f"ckpt:{tmp_path / name}", modality=Modality.TEXT).fingerprint for name in ("one", "two", "copy")}
    assert fingerprints["one"] == fingerprints["copy"]
    assert fingerprints["one"] != fingerprints["two"]
    assert fingerprints["one"] != encoders[Modality.TEXT].fingerprint
    info = create_encoder(f"ckpt:{tmp_path / 'one'}", modality=Modality.IMAGE).info()
    EncoderInfo.model_validate(info.model_dump())
    assert info.preprocessing["base_fingerprint"] == encoders[Modality.IMAGE].fingerprint


def test_missing_tower_and_ambiguous_modality(bases, tmp_path):
    _save(tmp_path / "text_only", bases, modalities=(Modality.TEXT,))
    with pytest.raises(EncoderSpecError, match=r"no image tower \(towers: \['text'\]\)"):
        create_encoder(f"ckpt:{tmp_path / 'text_only'}", modality=Modality.IMAGE)
    assert create_encoder(f"ckpt:{tmp_path / 'text_only'}").modality is Modality.TEXT
    _save(tmp_path / "both", bases)
    with pytest.raises(EncoderSpecError, match="pass modality"):
        create_encoder(f"ckpt:{tmp_path / 'both'}")


def _edit_text_tower(ckpt, field, value):
    """Rewrite one field of the checkpoint's text tower record; (its path, the edited metadata)."""
    meta_path = ckpt / CKPT_FILE
    meta = json.loads(meta_path.read_text())
    meta["towers"]["text"][field] = value
    meta_path.write_text(json.dumps(meta))
    return meta_path, meta


def test_changed_base_weights_are_refused(bases, tmp_path):
    _save(tmp_path / "ckpt", bases)
    _edit_text_tower(tmp_path / "ckpt", "base_fingerprint", "0" * 20)
    with pytest.raises(EncoderSpecError, match="retrain the checkpoint"):
        create_encoder(f"ckpt:{tmp_path / 'ckpt'}", modality=Modality.TEXT)


def test_broken_checkpoints_name_file_and_field(bases, tmp_path):
    with pytest.raises(EncoderSpecError, match="written by `vitrina train`"):
        create_encoder(f"ckpt:{tmp_path / 'nowhere'}", modality=Modality.TEXT)
    _save(tmp_path / "ckpt", bases)
    meta_path, meta = _edit_text_tower(tmp_path / "ckpt", "weights_digest", "f" * 64)
    with pytest.raises(CheckpointError, match="towers.text.weights_digest"):
        load_joint_checkpoint(tmp_path / "ckpt")
    meta["kind"] = "mystery"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(EncoderSpecError, match="kind 'mystery' is unknown"):
        create_encoder(f"ckpt:{tmp_path / 'ckpt'}", modality=Modality.TEXT)
    (tmp_path / "ckpt" / HEADS_FILE).unlink()
    meta["kind"] = "joint"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="heads.safetensors: field '\\(file\\)' is missing"):
        load_joint_checkpoint(tmp_path / "ckpt")


def test_save_refuses_towers_of_different_dimensions(bases, tmp_path):
    specs, encoders = bases
    towers = {m: TowerRecord(specs[m], encoders[m].fingerprint, HeadConfig(encoders[m].dim, 8 if m is Modality.TEXT else 4))
              for m in encoders}
    heads = {m: create_head(t.head) for m, t in towers.items()}
    with pytest.raises(CheckpointError, match="share one joint dimension"):
        save_joint_checkpoint(tmp_path / "bad", towers, heads)


def test_head_config_errors_name_the_field():
    with pytest.raises(HeadConfigError, match="'kind'"):
        HeadConfig(4, 2, kind="transformer")
    with pytest.raises(HeadConfigError, match="'out_dim'"):
        HeadConfig(4, 0)
    with pytest.raises(HeadConfigError, match="'dropout'"):
        HeadConfig(4, 2, dropout=1.0)
    with pytest.raises(HeadConfigError, match="'depth'"):
        HeadConfig.from_dict({"in_dim": 4, "out_dim": 2, "depth": 3})
    assert HeadConfig.from_dict(HeadConfig(4, 2, "mlp").to_dict()) == HeadConfig(4, 2, "mlp")
