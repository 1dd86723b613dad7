"""Image heatmaps with the real builtin:efficientnet-lite0 on a real openclipart object.

An object pasted into a corner of a blank canvas, compared with the object
alone: the heatmap's mass belongs on the pasted object. Also prints how long
one heatmap takes (IG at 32 and 50 steps, occlusion) on this machine.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitrina.training.encoders import create_encoder
from vitrina.training.explain.image_heatmap import Heatmap, explain_image

OBJECT = Path("/usr/share/openclipart/png/animals/emperor_penguin_ralf_ste_01.png")
CANVAS = 448

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not OBJECT.is_file(), reason="needs Debian openclipart-png"),
]


@pytest.fixture(scope="module")
def scene():
    encoder = create_encoder("builtin:efficientnet-lite0", device="cpu")
    with Image.open(OBJECT) as raw:
        rgba = raw.convert("RGBA")
    item = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    item.thumbnail((CANVAS // 3, CANVAS // 3))
    canvas = Image.new("RGB", (CANVAS, CANVAS), (255, 255, 255))
    box = (CANVAS - 8 - item.width, 8, CANVAS - 8, 8 + item.height)  # top-right corner
    canvas.paste(item, box[:2])
    return encoder, canvas, box, encoder.encode([item])[0]


def _mass_inside(heatmap: Heatmap, box) -> float:
    """The heatmap's mass inside `box` (image pixels), cells counted by the share of them it covers."""
    rows, cols = heatmap.mass.shape
    left, top, right, bottom = heatmap.box
    xs, ys = np.linspace(left, right, cols + 1), np.linspace(top, bottom, rows + 1)
    cover_x = np.clip(np.minimum(xs[1:], box[2]) - np.maximum(xs[:-1], box[0]), 0, None) / np.diff(xs)
    cover_y = np.clip(np.minimum(ys[1:], box[3]) - np.maximum(ys[:-1], box[1]), 0, None) / np.diff(ys)
    return float((heatmap.mass * cover_y[:, None] * cover_x[None, :]).sum())


def _timed(*args, **kwargs) -> Heatmap:
    start = time.perf_counter()
    heatmap = explain_image(*args, **kwargs)
    print(f"\nefficientnet-lite0 {kwargs}: {time.perf_counter() - start:.1f} s")
    return heatmap


# The blur baseline (and occlusion by blur) leaves the blank canvas as it is, so all
# the attribution lands on what differs from a blur: the object. With the black
# baseline the shared white background also earns credit (it is part of why the
# canvas resembles an object photographed on white), and black occlusion patches
# are new dark objects on white: on six openclipart objects the mass inside the
# pasted box was 0.35-0.87 for IG from black, 0.05-0.84 for occlusion by black,
# 0.86-1.00 for IG from blur and 0.64-0.98 for occlusion by blur (7x7 cells).
@pytest.mark.parametrize("method, options, least", [
    ("integrated_gradients", {"n_steps": 32}, None),
    ("integrated_gradients", {"n_steps": 50, "baseline": "blur"}, 0.5),
    ("occlusion", {"baseline": "blur"}, 0.5),
])
def test_the_pasted_object_holds_most_of_the_mass(scene, method, options, least):
    encoder, canvas, box, target = scene
    area = (box[2] - box[0]) * (box[3] - box[1]) / CANVAS**2
    heatmap = _timed(encoder, canvas, target, method=method, **options)
    inside = _mass_inside(heatmap, box)
    print(f"mass inside the pasted object: {inside:.2f} (area {area:.2f}); "
          f"score {heatmap.score:.3f}, baseline {heatmap.baseline_score:.3f}, delta {heatmap.delta}")
    assert heatmap.grid.shape == (14, 14) and heatmap.score > heatmap.baseline_score
    assert inside > 3 * area
    if least is not None:
        assert inside > least
