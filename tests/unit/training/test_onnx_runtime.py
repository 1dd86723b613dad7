"""`--runtime onnx`: tiny hf: encoders exported to ONNX Runtime give torch's vectors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.unit import _tiny_models as tiny
from vitrina.schemas import Modality
from vitrina.training.checkpoint import TowerRecord, save_joint_checkpoint
from vitrina.training.encoders import EncoderSpecError, create_encoder
from vitrina.training.encoders import onnx_runtime
from vitrina.training.heads import HeadConfig, create_head

# Lengths from 1 to ~40 tokens, so batches are padded and the traced masking is exercised.
TEXTS = ["cat", "the red house by the lake", "a stock market report of the green car " * 4, "", "an owl"]


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in [(40, 32), (64, 80), (33, 90)]]


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("onnx_models")
    return {"text": f"hf:{tiny.save_tiny_bert(root / 'bert')}", "image": f"hf:{tiny.save_tiny_vit(root / 'vit')}"}


def _vectors(encoder, modality: str) -> np.ndarray:
    return encoder.encode(TEXTS) if modality == "text" else encoder.encode(_images())


@pytest.mark.parametrize("modality", ["text", "image"])
def test_onnx_gives_torchs_vectors_and_fingerprint(specs, modality, tmp_path, monkeypatch):
    monkeypatch.setenv("VITRINA_CACHE", str(tmp_path))
    reference = create_encoder(specs[modality], device="cpu")
    fast = create_encoder(specs[modality], runtime="onnx", threads=1)
    assert fast._onnx is not None and fast.fingerprint == reference.fingerprint
    assert fast.info() == reference.info()
    expected, got = _vectors(reference, modality), _vectors(fast, modality)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.min(np.sum(expected * got, axis=1)) >= 0.9999
    # One text at a time (no padding) and in batches of two agree with the batch of all.
    if modality == "text":
        fast.batch_size = 2
        np.testing.assert_allclose(fast.encode(TEXTS), got, atol=1e-5)
        np.testing.assert_allclose(np.concatenate([fast.encode([t]) for t in TEXTS]), got, atol=1e-5)
    assert _vectors(fast, modality)[:0].shape == (0, fast.dim)
    # Exporting left the torch model in eval mode: explanations still run it deterministically.
    assert not fast.model.training
    np.testing.assert_allclose(_vectors(reference, modality), expected, atol=0)


def test_export_is_cached_by_fingerprint(specs, tmp_path, monkeypatch):
    monkeypatch.setenv("VITRINA_CACHE", str(tmp_path))
    first = create_encoder(specs["text"], runtime="onnx")
    (exported,) = (tmp_path / "onnx").glob("*.onnx")
    assert exported.name.startswith(first.fingerprint + "-fp32-")

    def no_second_export(*args, **kwargs):
        raise AssertionError("exported twice")

    monkeypatch.setattr(onnx_runtime, "_export", no_second_export)
    again = create_encoder(specs["text"], runtime="onnx")
    np.testing.assert_allclose(again.encode(TEXTS), first.encode(TEXTS), atol=0)
    # No staging files are left beside the export.
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [exported.name]


def test_int8_is_another_encoder(specs, tmp_path, monkeypatch):
    monkeypatch.setenv("VITRINA_CACHE", str(tmp_path))
    reference = create_encoder(specs["text"], device="cpu")
    quantised = create_encoder(specs["text"], runtime="onnx-int8")
    # Its vectors drift, so it must never be mixed with fp32 vectors of the same weights.
    assert quantised.fingerprint != reference.fingerprint
    assert quantised.preprocessing()["runtime"] == "onnx-int8"
    assert quantised.encode(TEXTS).shape == reference.encode(TEXTS).shape
    assert sorted(p.name.split("-")[1] for p in (tmp_path / "onnx").glob("*.onnx")) == ["fp32", "int8"]


def test_joint_tower_runs_its_base_on_onnx(specs, tmp_path, monkeypatch):
    monkeypatch.setenv("VITRINA_CACHE", str(tmp_path))
    bases = {m: create_encoder(specs[m.value], device="cpu") for m in (Modality.TEXT, Modality.IMAGE)}
    configs = {m: HeadConfig(e.dim, 8, "linear") for m, e in bases.items()}
    save_joint_checkpoint(tmp_path / "ckpt", {m: TowerRecord(specs[m.value], bases[m].fingerprint, configs[m])
                                              for m in bases},
                          {m: create_head(c) for m, c in configs.items()}, training={}, heldout_ids=[])
    spec = f"ckpt:{tmp_path / 'ckpt'}"
    reference = create_encoder(spec, modality="text", device="cpu")
    fast = create_encoder(spec, modality="text", runtime="onnx")
    assert fast.base._onnx is not None and fast.fingerprint == reference.fingerprint
    assert np.min(np.sum(fast.encode(TEXTS) * reference.encode(TEXTS), axis=1)) >= 0.9999
    with pytest.raises(EncoderSpecError, match="onnx-int8"):
        create_encoder(spec, modality="text", runtime="onnx-int8")


def test_unknown_runtime_is_named():
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        onnx_runtime.check_runtime("tensorrt")


def test_unexportable_model_names_the_way_out(specs, tmp_path, monkeypatch):
    monkeypatch.setenv("VITRINA_CACHE", str(tmp_path))

    def broken_export(*args, **kwargs):
        raise RuntimeError("Unsupported: ONNX export of operator foo")

    monkeypatch.setattr(onnx_runtime.torch.onnx, "export", broken_export)
    with pytest.raises(EncoderSpecError, match=r"cannot export to ONNX .*foo.*--runtime torch"):
        create_encoder(specs["image"], runtime="onnx")
    assert list((tmp_path / "onnx").iterdir()) == []


def test_export_that_differs_from_torch_is_refused(specs, tmp_path, monkeypatch):
    monkeypatch.setenv("VITRINA_CACHE", str(tmp_path))
    real_export = onnx_runtime.torch.onnx.export

    def wrong_graph(wrapper, *args, **kwargs):
        # What a trace that froze one input's shape decisions looks like: right at export, wrong after.
        wrapper.forward = lambda input_ids, *rest: input_ids[:, :1].float().repeat(1, 32)
        real_export(wrapper, *args, **kwargs)

    monkeypatch.setattr(onnx_runtime.torch.onnx, "export", wrong_graph)
    with pytest.raises(EncoderSpecError, match="computes other vectors than torch"):
        create_encoder(specs["text"], runtime="onnx")
    assert list((tmp_path / "onnx").iterdir()) == []
