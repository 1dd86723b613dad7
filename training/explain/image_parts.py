"""What explaining an image needs from an image encoder.

- its own preprocessing (PIL image -> float32 [3, H, W]),
- a differentiable forward pass (pixels -> unnormalised vector in the encoder's space),
- where the preprocessed input lies on the original image, so that a heatmap
  over the input can be cropped to real content and laid back onto the image.

The forward passes are the encoders' own `_embed_pixels` (and a joint tower's
head on top), called outside `inference_mode`: nothing is duplicated, and
nothing on the shared model is changed (no train(), no hooks), so inference
threads can keep using the same encoder meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from vitrina.training.encoders.ckpt import JointImageEncoder
from vitrina.training.encoders.pixels import LetterboxNormalise, ResizeCropNormalise
from vitrina.training.encoders.torch_base import TorchImageEncoder
from vitrina.training.explain.errors import ExplainError
from vitrina.training.explain.joint import through_joint_head

Size = tuple[int, int]  # (width, height), PIL order
Box = tuple[float, float, float, float]  # (left, top, right, bottom)


@dataclass(frozen=True)
class Geometry:
    """Where the source image lies in the preprocessed input: input_xy = source_xy * scale + offset.

    One affine map covers every preprocessing here: letterboxing (offset into
    the padded square), resize + centre crop (negative offset, the crop cuts
    the source) and stretching to a fixed size (different x and y scales).
    `exact` is False when the map is an assumption (an unknown preprocessing,
    taken to stretch the whole image onto the input).
    """

    source_size: Size
    input_size: Size
    scale: tuple[float, float]
    offset: tuple[float, float]
    exact: bool = True

    @property
    def content_box(self) -> tuple[int, int, int, int]:
        """Input pixels showing the source (padding excluded), whole pixels."""
        (sw, sh), (iw, ih) = self.source_size, self.input_size
        left, top = self.offset
        right, bottom = sw * self.scale[0] + left, sh * self.scale[1] + top
        box = (max(0, round(left)), max(0, round(top)), min(iw, round(right)), min(ih, round(bottom)))
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ExplainError(f"the image ({sw}x{sh}) does not reach the encoder's input ({iw}x{ih})")
        return box

    @property
    def source_box(self) -> Box:
        """The content box in source-image coordinates: the part of the image the encoder saw."""
        left, top, right, bottom = self.content_box
        (sx, sy), (dx, dy) = self.scale, self.offset
        return ((left - dx) / sx, (top - dy) / sy, (right - dx) / sx, (bottom - dy) / sy)


@dataclass(frozen=True)
class ImageParts:
    preprocess: Callable[[Image.Image], np.ndarray]
    forward: Callable[[torch.Tensor], torch.Tensor]  # [n, 3, H, W] -> [n, dim], differentiable
    geometry: Callable[[Size, Size], Geometry]  # (source size, input size) -> Geometry
    device: torch.device  # where the model runs: inputs go there
    dim: int


def image_parts(encoder: Any) -> ImageParts:
    """The parts of `encoder` (a PyTorch image encoder or a joint checkpoint's image tower)."""
    if isinstance(encoder, JointImageEncoder):
        return _joint_parts(encoder, image_parts(encoder.base))
    if isinstance(encoder, TorchImageEncoder):
        # Backbone checkpoints load as TorchImageEncoder subclasses, with their own preprocessing.
        device = torch.device(encoder.device)
        return ImageParts(
            preprocess=encoder.preprocess,
            forward=lambda pixels: encoder._embed_pixels(pixels.to(device)),
            geometry=_geometry_of(encoder.preprocess),
            device=device,
            dim=encoder.dim,
        )
    raise ExplainError(f"cannot explain images of encoder {getattr(encoder, 'spec', type(encoder).__name__)!r}: "
                       "image heatmaps need a PyTorch image encoder or a joint checkpoint's image tower")


def _joint_parts(encoder, base: ImageParts) -> ImageParts:
    return ImageParts(base.preprocess, through_joint_head(encoder, base.forward), base.geometry, base.device, encoder.dim)


def _geometry_of(preprocess: Any) -> Callable[[Size, Size], Geometry]:
    if isinstance(preprocess, LetterboxNormalise):
        return lambda source, inp: _letterbox(preprocess, source, inp)
    if isinstance(preprocess, ResizeCropNormalise):
        return lambda source, inp: _crop_box_geometry(preprocess._crop_box(source), source, inp)
    # Imported here: it imports transformers (seconds), which builtin:efficientnet-lite0 never needs.
    from vitrina.training.encoders.hf_vision import HfImagePreprocessor

    if isinstance(preprocess, HfImagePreprocessor):
        config = preprocess.processor.to_dict()  # plain dicts in transformers 4 and 5
        return lambda source, inp: _hf(config, source, inp)
    return _stretch


def _letterbox(p: LetterboxNormalise, source: Size, inp: Size) -> Geometry:
    # The same arithmetic as LetterboxNormalise.__call__, rounding included.
    width, height = source
    scale = p.size / max(width, height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    offset = ((p.size - inner[0]) // 2, (p.size - inner[1]) // 2)
    return Geometry(source, inp, (inner[0] / width, inner[1] / height), offset)


def _crop_box_geometry(box: Box, source: Size, inp: Size) -> Geometry:
    left, top, right, bottom = box
    sx, sy = inp[0] / (right - left), inp[1] / (bottom - top)
    return Geometry(source, inp, (sx, sy), (-left * sx, -top * sy))


def _stretch(source: Size, inp: Size, exact: bool = False) -> Geometry:
    return Geometry(source, inp, (inp[0] / source[0], inp[1] / source[1]), (0.0, 0.0), exact)


def _hf(config: dict, source: Size, inp: Size) -> Geometry:
    """HF image processors: resize (fixed size, or shortest edge), then an optional centre crop.

    Mirrors transformers' PIL backend. Other resize rules (longest_edge,
    max_height...) are taken as a stretch of the whole image: approximate.
    """
    width, height = source
    size = config.get("size") or {}
    if not config.get("do_resize", True):
        resized, exact = source, True
    elif size.get("height") and size.get("width"):
        resized, exact = (int(size["width"]), int(size["height"])), True
    elif size.get("shortest_edge") and not size.get("longest_edge"):
        # transformers.image_transforms.get_resize_output_image_size: the long side is truncated.
        short = int(size["shortest_edge"])
        resized = (short, int(short * height / width)) if width <= height else (int(short * width / height), short)
        exact = True
    else:
        return _stretch(source, inp)
    scale = (resized[0] / width, resized[1] / height)
    crop = config.get("crop_size") or {}
    if config.get("do_center_crop") and crop.get("height") and crop.get("width"):
        # transformers' center_crop: top = (h - crop_h) // 2, negative (padding) for small images.
        offset = (-((resized[0] - int(crop["width"])) // 2), -((resized[1] - int(crop["height"])) // 2))
        return Geometry(source, inp, scale, offset, exact)
    return Geometry(source, inp, scale, (0.0, 0.0), exact)
