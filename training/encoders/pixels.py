"""Resize / center-crop / normalise preprocessing for encoders without an HF image processor."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class ResizeCropNormalise:
    """Shorter side to `resize_shorter` (bicubic), center crop `crop`, [0,1], then (x - mean) / std.

    A frozen dataclass so it pickles into worker processes and its config
    is exactly its fields.
    """

    resize_shorter: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        cropped = image.resize((self.crop, self.crop), Image.Resampling.BICUBIC, box=self._crop_box(image.size))
        pixels = np.asarray(cropped, dtype=np.float32) / 255.0
        pixels = (pixels - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))

    def _crop_box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        # The crop expressed in source coordinates, so one resize of just that
        # region replaces resize-then-crop: same result, and a 1:500 banner is
        # not first blown up to 128,000 px wide.
        width, height = size
        scale = self.resize_shorter / min(width, height)
        resized_w, resized_h = round(width * scale), round(height * scale)
        left = (resized_w - self.crop) / 2 / scale
        top = (resized_h - self.crop) / 2 / scale
        side = self.crop / scale
        return (left, top, left + side, top + side)

    def config(self) -> dict:
        return {**asdict(self), "resample": "bicubic"}


@dataclass(frozen=True)
class LetterboxNormalise:
    """Pad to a square on `fill` (aspect kept, nothing cut), resize to `size`, [0,1], then (x - mean) / std.

    Catalogue images are usually whole objects on a plain background; a
    center crop cuts the ends off wide or tall ones. On 1,200 openclipart
    items (EfficientNet-Lite0) letterboxing raised the share of 5 image
    neighbours in the same category from 0.375 to 0.404, and for animals
    from 0.255 to 0.339.
    """

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    fill: tuple[int, int, int] = (255, 255, 255)

    def __call__(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        scale = self.size / max(width, height)
        inner = (max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = Image.new("RGB", (self.size, self.size), self.fill)
        canvas.paste(image.resize(inner, Image.Resampling.BICUBIC), ((self.size - inner[0]) // 2, (self.size - inner[1]) // 2))
        pixels = np.asarray(canvas, dtype=np.float32) / 255.0
        pixels = (pixels - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))

    def config(self) -> dict:
        return {**asdict(self), "resample": "bicubic", "fit": "letterbox"}
