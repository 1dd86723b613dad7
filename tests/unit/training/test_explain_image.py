"""Image heatmaps (training/explain/image_heatmap.py, image_parts.py) on tiny models."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.unit import _tiny_models as tiny
from vitrina.schemas import Modality
from vitrina.training.backbone_ckpt import save_backbone_checkpoint
from vitrina.training.checkpoint import TowerRecord, save_joint_checkpoint
from vitrina.training.encoders import create_encoder
from vitrina.training.encoders.pixels import LetterboxNormalise, ResizeCropNormalise
from vitrina.training.encoders.torch_base import TorchImageEncoder
from vitrina.training.explain.errors import ExplainError
from vitrina.training.explain.image_heatmap import explain_image, overlay_png
from vitrina.training.explain.image_parts import image_parts
from vitrina.training.heads import HeadConfig, create_head

RED_SQUARE = (80, 30, 120, 70)  # in the 200x100 test image


def _noise(size, seed) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _grey_with_red_square() -> Image.Image:
    # Grey, not white: letterbox padding (white) and content tell apart in the input.
    image = Image.new("RGB", (200, 100), (110, 110, 110))
    image.paste((255, 0, 0), RED_SQUARE)
    return image


class _TinyConvEncoder(TorchImageEncoder):
    """A plain TorchImageEncoder subclass, with whatever preprocessing a test gives it."""

    def __init__(self, preprocess):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, stride=2), torch.nn.Tanh())
        super().__init__("test:conv", 8, model, preprocess, device="cpu")
        self._set_identity("tiny", {})

    def _embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixels).mean(dim=(2, 3))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_image")
    vit_spec = f"hf:{tiny.save_tiny_vit(root / 'vit')}"
    clip_spec = f"hf:{tiny.save_tiny_clip(root / 'clip')}"
    encoders = {
        "vit": create_encoder(vit_spec, device="cpu"),
        "clip_image": create_encoder(clip_spec, modality="image", device="cpu"),
        "clip_text": create_encoder(clip_spec, modality="text", device="cpu"),
    }
    # A backbone checkpoint over the tiny ViT, letterboxed instead of stretched.
    save_backbone_checkpoint(root / "backbone", encoders["vit"], vit_spec,
                             preprocess=LetterboxNormalise(size=32, mean=(0.5,) * 3, std=(0.5,) * 3))
    encoders["backbone"] = create_encoder(f"ckpt:{root / 'backbone'}", device="cpu")
    torch.manual_seed(0)
    config = HeadConfig(encoders["vit"].dim, 8, "mlp", hidden_dim=16)
    save_joint_checkpoint(root / "joint", {Modality.IMAGE: TowerRecord(vit_spec, encoders["vit"].fingerprint, config)},
                          {Modality.IMAGE: create_head(config)})
    encoders["joint"] = create_encoder(f"ckpt:{root / 'joint'}", modality="image", device="cpu")
    return encoders


def _cosine(encoder, image, target) -> float:
    return float(encoder.encode([image])[0] @ (target / np.linalg.norm(target)))


@pytest.mark.parametrize("name", ["vit", "clip_image", "backbone", "joint"])
def test_integrated_gradients_complete_and_consistent_with_the_encoder(models, name):
    encoder, image = models[name], _noise((60, 30), seed=1)
    target = encoder.encode([_noise((40, 40), seed=2)])[0]
    heatmap = explain_image(encoder, image, target, n_steps=32)
    # The explained scalar is the encoder's own cosine similarity: same forward pass as encode().
    assert heatmap.score == pytest.approx(_cosine(encoder, image, target), abs=1e-5)
    # Completeness: the cells (padding dropped) add up to f(x) - f(baseline), up to IG's own delta.
    difference = heatmap.score - heatmap.baseline_score
    assert abs(float(heatmap.grid.sum()) - difference) <= abs(heatmap.delta) + 1e-4
    assert abs(heatmap.delta) < 0.05 * abs(difference) + 1e-3
    # A 2:1 image: 14 cells along the longer side, 7 along the shorter (crop towers see a square).
    assert heatmap.grid.shape == ((14, 14) if name == "clip_image" else (7, 14))
    assert heatmap.grid.dtype == np.float32 and heatmap.mass.shape == heatmap.grid.shape
    assert heatmap.mass.min() >= 0 and heatmap.mass.sum() == pytest.approx(1, abs=1e-5)
    assert heatmap.method == "integrated_gradients" and heatmap.n_steps == 32


def test_text_query_against_image_in_the_joint_space(models):
    image = _noise((48, 48), seed=3)
    target = models["clip_text"].encode(["a red house"])[0]
    heatmap = explain_image(models["clip_image"], image, target, n_steps=16, grid=8)
    assert heatmap.score == pytest.approx(_cosine(models["clip_image"], image, target), abs=1e-5)
    assert heatmap.grid.shape == (8, 8)
    assert abs(float(heatmap.grid.sum()) - (heatmap.score - heatmap.baseline_score)) <= abs(heatmap.delta) + 1e-4


def test_occlusion_cell_is_the_score_drop_when_that_cell_is_blacked_out(models):
    encoder, image = models["backbone"], _noise((64, 32), seed=4)
    target = encoder.encode([_noise((40, 40), seed=5)])[0]
    heatmap = explain_image(encoder, image, target, method="occlusion", grid=4)
    assert heatmap.grid.shape == (2, 4) and heatmap.delta is None and heatmap.n_steps is None
    assert heatmap.mass.sum() == pytest.approx(1, abs=1e-5)
    # Letterboxed 64x32 -> 32x16 content at input rows 8..24: cell (1, 2) is rows 16..24, columns 16..24.
    pixels = encoder.preprocess(image)
    pixels[:, 16:24, 16:24] = encoder.preprocess(Image.new("RGB", image.size))[:, 16:24, 16:24]
    occluded = float(encoder.encode_pixels(pixels[None])[0] @ (target / np.linalg.norm(target)))
    assert heatmap.grid[1, 2] == pytest.approx(heatmap.score - occluded, abs=1e-5)


def test_smoothgrad_is_deterministic_and_blur_baseline_works(models):
    encoder, image = models["vit"], _noise((40, 40), seed=6)
    target = encoder.encode([_noise((40, 40), seed=7)])[0]
    first = explain_image(encoder, image, target, method="smoothgrad", n_steps=8, nt_samples=2, grid=7)
    again = explain_image(encoder, image, target, method="smoothgrad", n_steps=8, nt_samples=2, grid=7)
    assert first.grid.shape == (7, 7) and np.array_equal(first.grid, again.grid)
    assert first.mass.sum() == pytest.approx(1, abs=1e-5)
    blurred = explain_image(encoder, image, target, baseline="blur", n_steps=8, grid=7)
    assert blurred.baseline == "blur" and blurred.baseline_score != first.baseline_score


def test_content_box_and_source_box_locate_the_image_in_the_input(models):
    """A red square found in the preprocessed input maps back onto where it is in the image."""
    cases = {
        "letterbox": (models["backbone"], (0, 8, 32, 24)),  # 200x100 letterboxed into 32x32
        "stretch": (models["vit"], (0, 0, 32, 32)),
        "hf crop": (models["clip_image"], (0, 0, 32, 32)),  # shortest edge 32, centre crop 32
        "crop": (_TinyConvEncoder(ResizeCropNormalise(resize_shorter=64, crop=48, mean=(0.5,) * 3, std=(0.5,) * 3)),
                 (0, 0, 48, 48)),
        "letterbox 96": (_TinyConvEncoder(LetterboxNormalise(size=96, mean=(0.5,) * 3, std=(0.5,) * 3)), (0, 24, 96, 72)),
    }
    image = _grey_with_red_square()
    for name, (encoder, content_box) in cases.items():
        parts = image_parts(encoder)
        pixels = parts.preprocess(image)
        geometry = parts.geometry(image.size, (pixels.shape[2], pixels.shape[1]))
        assert geometry.exact and geometry.content_box == content_box, name
        left, top, right, bottom = content_box
        # Padding is the letterbox fill, untouched by the image; content is grey or red.
        white = parts.preprocess(Image.new("RGB", image.size, (255, 255, 255)))
        inside = np.zeros(pixels.shape[1:], bool)
        inside[top:bottom, left:right] = True
        assert np.allclose(pixels[:, ~inside], white[:, ~inside]) and not np.isclose(pixels[:, inside], white[:, inside]).all(0).any(), name
        red = np.argwhere(pixels[0] - pixels[1] > 1.0)
        (y0, x0), (y1, x1) = red.min(0), red.max(0) + 1
        (sx, sy), (dx, dy) = geometry.scale, geometry.offset
        found = ((x0 - dx) / sx, (y0 - dy) / sy, (x1 - dx) / sx, (y1 - dy) / sy)
        tolerance = 1.5 / min(sx, sy)  # resampling blurs the square's edge by about a pixel
        assert np.allclose(found, RED_SQUARE, atol=tolerance), (name, found)
    # The centre crop of the CLIP tower keeps the middle 100x100 of the 200x100 image.
    assert image_parts(models["clip_image"]).geometry((200, 100), (32, 32)).source_box == pytest.approx((50, 0, 150, 100))
    assert image_parts(models["backbone"]).geometry((200, 100), (32, 32)).source_box == pytest.approx((0, 0, 200, 100))


def test_heatmap_box_is_what_the_encoder_saw(models):
    target = models["clip_image"].encode([_noise((40, 40), seed=8)])[0]
    heatmap = explain_image(models["clip_image"], _noise((90, 30), seed=9), target, n_steps=4, grid=4)
    assert heatmap.box == pytest.approx((30, 0, 60, 30)) and heatmap.image_size == (90, 30)
    payload = json.loads(json.dumps(heatmap.to_dict()))
    assert payload["shape"] == [4, 4] and len(payload["grid"]) == 4 and len(payload["mass"][0]) == 4
    assert payload["box"] == [30.0, 0.0, 60.0, 30.0] and payload["method"] == "integrated_gradients"


@pytest.mark.parametrize("size, max_side, expected", [((600, 300), 512, (512, 256)), ((60, 30), 512, (60, 30)),
                                                       ((90, 30), 45, (45, 15))])
def test_overlay_is_a_png_of_the_downscaled_image(models, size, max_side, expected):
    image = _noise(size, seed=10)
    target = models["clip_image"].encode([_noise((40, 40), seed=11)])[0]
    heatmap = explain_image(models["clip_image"], image, target, method="occlusion", grid=4)
    data = overlay_png(image, heatmap, max_side=max_side)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG" and decoded.size == expected and decoded.mode == "RGB"


def test_overlay_colours_where_the_mass_is():
    from vitrina.training.explain.image_heatmap import Heatmap

    mass = np.zeros((2, 2), np.float32)
    mass[0, 1] = 1.0
    heatmap = Heatmap(mass, mass, (0, 0, 100, 100), (100, 100), 0.5, 0.1, 0.0, "integrated_gradients", 8, "black")
    image = Image.new("RGB", (100, 100), (255, 255, 255))
    out = np.asarray(Image.open(io.BytesIO(overlay_png(image, heatmap))), dtype=int)
    assert (out[10, 10] == 255).all()  # no mass: untouched
    assert (out[10, 90] != 255).any()  # the cell with the mass: coloured


def test_explaining_leaves_the_encoder_as_it_was_and_works_under_inference_mode(models):
    encoder, image = models["vit"], _noise((40, 40), seed=12)
    target = encoder.encode([_noise((40, 40), seed=13)])[0]
    before = encoder.encode([image])
    with torch.inference_mode():
        heatmap = explain_image(encoder, image, target, n_steps=8, grid=4)
    again = explain_image(encoder, image, target, n_steps=8, grid=4)
    assert np.array_equal(heatmap.grid, again.grid)  # deterministic
    assert not encoder.model.training and all(p.grad is None for p in encoder.model.parameters())
    assert np.array_equal(encoder.encode([image]), before)


def test_unsupported_encoders_and_bad_requests(models):
    image, target = _noise((40, 40), seed=14), np.ones(models["vit"].dim, np.float32)
    for encoder in (models["clip_text"], object()):
        with pytest.raises(ExplainError, match="cannot explain images"):
            image_parts(encoder)
        with pytest.raises(ExplainError):
            explain_image(encoder, image, target)
    with pytest.raises(ExplainError, match="dimensions"):
        explain_image(models["vit"], image, np.ones(5, np.float32))
    with pytest.raises(ExplainError, match="non-zero"):
        explain_image(models["vit"], image, np.zeros(models["vit"].dim, np.float32))
    with pytest.raises(ExplainError, match="method"):
        explain_image(models["vit"], image, target, method="saliency")
    assert issubclass(ExplainError, ValueError)
