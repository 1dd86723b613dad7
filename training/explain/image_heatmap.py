"""Image heatmaps: which parts of an image make its vector close to another vector.

The explained scalar is the cosine similarity between the image's vector in
the encoder's space and `target` (a neighbour's stored vector for
image<->image, a text query's joint vector for text->image). Attributions over
the preprocessed input are summed over channels, cropped to the content
(letterbox padding dropped) and pooled onto a coarse grid over the content:
`grid` cells along the longer side and proportionally fewer along the shorter
one (a 2:1 image gets 14x7), so cells stay square on the image.

Methods:
- integrated_gradients: Captum IG from a baseline image. A cell is the sum of
  its attributions, so the cells add up to score - baseline_score - delta.
- smoothgrad: IG averaged over `nt_samples` noisy copies of the input. The
  noise comes from a seeded generator (Captum's NoiseTunnel draws from the
  global RNG, which a server thread must not reseed): deterministic.
- occlusion: each cell in turn replaced by the baseline: Captum's
  FeatureAblation with the grid as feature mask, i.e. an occlusion window of
  one cell with stride = window, aligned with the content rather than with
  the padded input. A cell is score - (score with the cell occluded).

Baselines: "black" is the encoder's preprocessing of an all-black image of the
same size (zeros in raw pixel space; letterbox padding stays as it is, so it
gets no attribution); "blur" a Gaussian blur of the image with a radius of
about one cell, which credits detail rather than colour and brightness. On
objects on a white background (catalogue images) blur is the better one: a
blank background blurs to itself and earns nothing, whereas from black it
earns credit, and black occlusion patches are new dark objects on white. With
EfficientNet-Lite0, six openclipart objects pasted into a corner of a white
canvas held 0.35-0.87 of the mass with IG from black, 0.86-1.00 from blur;
occlusion 0.05-0.84 by black, 0.64-0.98 by blur.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import FeatureAblation, IntegratedGradients
from PIL import Image, ImageFilter

from vitrina.training.explain.errors import ExplainError
from vitrina.training.explain.image_parts import Box, Size, image_parts

METHODS = ("integrated_gradients", "smoothgrad", "occlusion")
BASELINES = ("black", "blur")


@dataclass(frozen=True)
class Heatmap:
    grid: np.ndarray  # float32 [gh, gw], signed: > 0 raises the similarity
    mass: np.ndarray  # float32 [gh, gw], the positive part normalised to sum 1 (all 0 when nothing is positive)
    box: Box  # the part of the image the grid covers, in its pixels (left, top, right, bottom)
    image_size: Size  # (width, height) of the explained image
    score: float  # cosine similarity of the image to the target
    baseline_score: float  # the same for the baseline image
    delta: float | None  # IG convergence delta (sum of attributions - (score - baseline_score)); None for occlusion
    method: str
    n_steps: int | None  # None for occlusion
    baseline: str

    def to_dict(self, decimals: int = 4) -> dict[str, Any]:
        return {
            "method": self.method,
            "baseline": self.baseline,
            "n_steps": self.n_steps,
            "score": round(self.score, 6),
            "baseline_score": round(self.baseline_score, 6),
            "delta": None if self.delta is None else round(self.delta, 6),
            "shape": list(self.grid.shape),
            "grid": np.round(self.grid.astype(np.float64), decimals).tolist(),
            "mass": np.round(self.mass.astype(np.float64), decimals).tolist(),
            "box": [round(float(v), 2) for v in self.box],
            "image_size": list(self.image_size),
        }


def explain_image(
    encoder: Any,
    image: Image.Image,
    target: np.ndarray,
    method: str = "integrated_gradients",
    n_steps: int = 32,
    grid: int = 14,
    baseline: str = "black",
    internal_batch_size: int = 16,
    nt_samples: int = 4,
    nt_stdev: float = 0.1,
    seed: int = 0,
) -> Heatmap:
    """Heatmap of `image` for its cosine similarity to `target` in `encoder`'s space.

    `baseline` "black" or "blur" (better for objects on plain backgrounds, see
    above); `internal_batch_size` bounds the images per forward pass (memory);
    `nt_stdev` is SmoothGrad's noise as a fraction of the input's value range.
    Raises ExplainError for unsupported encoders and bad arguments.
    """
    if method not in METHODS or baseline not in BASELINES:
        raise ExplainError(f"method must be one of {METHODS} and baseline one of {BASELINES}; got {method!r}, {baseline!r}")
    if n_steps < 1 or grid < 1 or internal_batch_size < 1 or nt_samples < 1:
        raise ExplainError("n_steps, grid, internal_batch_size and nt_samples must be positive")
    parts = image_parts(encoder)
    rgb = image.convert("RGB")
    # Gradients even when called under an API's inference_mode (grad mode is per thread),
    # with every tensor made inside: inference tensors cannot be saved for backward.
    with torch.inference_mode(False), torch.enable_grad():
        wanted = _unit_target(target, parts.dim)
        x = torch.from_numpy(parts.preprocess(rgb))[None].to(parts.device)
        b = torch.from_numpy(parts.preprocess(_baseline_image(rgb, baseline, grid)))[None].to(parts.device)
        geometry = parts.geometry(rgb.size, (x.shape[3], x.shape[2]))
        rows, cols = _cells(geometry.content_box, geometry.source_box, grid)

        def similarity(pixels: torch.Tensor) -> torch.Tensor:
            vectors = parts.forward(pixels).float()  # a joint tower's head may sit on another device
            return F.cosine_similarity(vectors, wanted.to(vectors.device), dim=1)

        with torch.no_grad():
            score, baseline_score = similarity(torch.cat([x, b])).tolist()
        if method == "occlusion":
            values, delta = _occlusion(similarity, x, b, rows, cols, internal_batch_size), None
        else:
            inputs = x if method == "integrated_gradients" else _noisy(x, geometry.content_box, nt_samples, nt_stdev, seed)
            values, delta = _integrated_gradients(similarity, inputs, b, rows, cols, n_steps, internal_batch_size)
    values = values.astype(np.float32)
    return Heatmap(values, _mass(values), geometry.source_box, rgb.size, score, baseline_score, delta, method,
                   None if method == "occlusion" else n_steps, baseline)


def _occlusion(similarity, x, b, rows, cols, batch_size: int) -> np.ndarray:
    mask = _cell_ids(rows, cols, x.shape[2:]).to(x.device)
    attr = FeatureAblation(similarity).attribute(x, baselines=b, feature_mask=mask, perturbations_per_eval=batch_size)
    # Every pixel of a cell holds the cell's score drop: the mean of one channel is that drop.
    return _pool(attr[0, 0], rows, cols) / np.outer(np.diff(rows), np.diff(cols))


def _integrated_gradients(similarity, inputs, b, rows, cols, n_steps: int, batch_size: int) -> tuple[np.ndarray, float]:
    attr, deltas = IntegratedGradients(similarity).attribute(
        inputs, baselines=b.expand_as(inputs), n_steps=n_steps, internal_batch_size=batch_size,
        return_convergence_delta=True)
    # Several inputs are SmoothGrad's noisy copies: attributions averaged, and the delta
    # the mean of theirs, each against its own noisy input.
    return _pool(attr.mean(0).sum(0), rows, cols), float(deltas.mean())


def _unit_target(target: np.ndarray, dim: int) -> torch.Tensor:
    vector = np.asarray(target, dtype=np.float32).reshape(-1)
    if vector.shape[0] != dim:
        raise ExplainError(f"target has {vector.shape[0]} dimensions, the encoder's space {dim}")
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        raise ExplainError("target must be a finite, non-zero vector")
    return torch.from_numpy(vector / np.linalg.norm(vector))[None]


def _baseline_image(rgb: Image.Image, baseline: str, grid: int) -> Image.Image:
    if baseline == "black":
        return Image.new("RGB", rgb.size, (0, 0, 0))
    return rgb.filter(ImageFilter.GaussianBlur(radius=max(rgb.size) / grid))


def _cells(box: tuple[int, int, int, int], source_box: Box, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column edges (input pixels) of the grid over the content box.

    Cell counts follow the aspect of the image region, not of the input, so
    cells are square on the image even where the input stretched it (ViT).
    """
    left, top, right, bottom = box
    aspect = (source_box[2] - source_box[0]) / (source_box[3] - source_box[1])
    n_cols = min(right - left, max(1, round(grid * min(1.0, aspect))))
    n_rows = min(bottom - top, max(1, round(grid * min(1.0, 1 / aspect))))
    cols = np.floor(np.linspace(left, right, n_cols + 1) + 0.5).astype(int)
    rows = np.floor(np.linspace(top, bottom, n_rows + 1) + 0.5).astype(int)
    return rows, cols


def _pool(values: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per-cell sums of a 2-D map over the input."""
    crop = values.detach().double().cpu().numpy()[rows[0]:rows[-1], cols[0]:cols[-1]]
    return np.add.reduceat(np.add.reduceat(crop, rows[:-1] - rows[0], axis=0), cols[:-1] - cols[0], axis=1)


def _cell_ids(rows: np.ndarray, cols: np.ndarray, shape) -> torch.Tensor:
    """Feature mask [1, 1, H, W]: the cell number of each content pixel; padding is one extra group."""
    n_rows, n_cols = len(rows) - 1, len(cols) - 1
    ids = np.full(tuple(shape), n_rows * n_cols, dtype=np.int64)
    row_ids = np.repeat(np.arange(n_rows), np.diff(rows))
    col_ids = np.repeat(np.arange(n_cols), np.diff(cols))
    ids[rows[0]:rows[-1], cols[0]:cols[-1]] = row_ids[:, None] * n_cols + col_ids[None, :]
    return torch.from_numpy(ids)[None, None]


def _noisy(x: torch.Tensor, box: tuple[int, int, int, int], samples: int, stdev: float, seed: int) -> torch.Tensor:
    # Noise on the content only: the padding stays identical to the baseline's and gets no attribution.
    left, top, right, bottom = box
    content = x[..., top:bottom, left:right]
    scale = stdev * float(content.max() - content.min())
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((samples, *content.shape[1:]), generator=generator) * scale
    noisy = x.repeat(samples, 1, 1, 1)
    noisy[..., top:bottom, left:right] += noise.to(x.device)
    return noisy


def _mass(values: np.ndarray) -> np.ndarray:
    positive = np.clip(values, 0, None)
    total = positive.sum()
    return (positive / total if total > 0 else positive).astype(np.float32)


# A small sequential map, blue -> magenta -> red: saturated at the top end, so
# the strongest cells stand out on the white backgrounds of catalogue images
# (matplotlib's maps end in pale yellow there), without depending on matplotlib.
_STOPS = np.array([0.0, 0.5, 1.0])
_COLOURS = np.array([[40, 70, 200], [190, 40, 160], [230, 25, 25]], dtype=np.float64)
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), _STOPS, _COLOURS[:, c]) for c in range(3)], axis=1)


def overlay_png(image: Image.Image, heatmap: Heatmap, max_side: int = 512, alpha: float = 0.6) -> bytes:
    """`image` (downscaled to `max_side`) with the heatmap's positive mass overlaid; PNG bytes.

    Opacity grows with the mass (square root: cells with a fair share stay
    visible next to the peak), so cells without any stay clear; what the
    encoder never saw (a centre crop's cut-off ends) is dimmed.
    """
    rgb = image.convert("RGB")
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Scaled from the explained image's size, so a thumbnail of it works too.
    sx, sy = rgb.width / heatmap.image_size[0], rgb.height / heatmap.image_size[1]
    left, top, right, bottom = heatmap.box
    left, right = (int(np.clip(round(v * sx), 0, rgb.width)) for v in (left, right))
    top, bottom = (int(np.clip(round(v * sy), 0, rgb.height)) for v in (top, bottom))
    pixels = np.asarray(rgb, dtype=np.float64)
    out = pixels * 0.5 + 127.5 * 0.5
    out[top:bottom, left:right] = pixels[top:bottom, left:right]
    peak = float(heatmap.mass.max()) if heatmap.mass.size else 0.0
    if peak > 0 and right > left and bottom > top:
        heat = Image.fromarray((heatmap.mass / peak).astype(np.float32))
        heat = heat.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
        level = np.clip(np.asarray(heat, dtype=np.float64), 0, 1)
        colours = _LUT[np.round(level * 255).astype(int)]
        opacity = (alpha * np.sqrt(level))[..., None]
        out[top:bottom, left:right] = out[top:bottom, left:right] * (1 - opacity) + colours * opacity
    buffer = io.BytesIO()
    Image.fromarray(np.round(out).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
