"""The research's image augmentations: random horizontal / vertical flips and Gaussian blur.

Ops act on *preprocessed* pixels (float32 [3, H, W], already resized and
normalised), not on the source image: catalogue images are often thousands of
pixels wide, and a blur radius measured at the source would vanish after the
resize to the model's input. Flips and a normalised blur kernel commute with
the per-channel affine normalisation, so blurring normalised pixels equals
blurring the resized image and normalising afterwards.

Augmented copies are materialised once (see `rebalance.plan_rebalance` and
the frozen-prefix cache), so every op is a value (`AugmentOp`) drawn
deterministically from (seed, source key, copy number): the same copy of the
same item is identical across runs and training seeds, which lets caches be
shared between them.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentOp:
    """One augmentation: flips, then a Gaussian blur of standard deviation `blur_sigma` pixels (0: none)."""

    hflip: bool = False
    vflip: bool = False
    blur_sigma: float = 0.0

    @property
    def is_identity(self) -> bool:
        return not (self.hflip or self.vflip or self.blur_sigma > 0)

    @property
    def key(self) -> str:
        """Stable text form, part of cache keys."""
        if self.is_identity:
            return "id"
        return f"h{int(self.hflip)}v{int(self.vflip)}b{self.blur_sigma:.3f}"


IDENTITY = AugmentOp()


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities of each op and the blur strength range (in model-input pixels)."""

    p_hflip: float = 0.5
    p_vflip: float = 0.5
    p_blur: float = 0.5
    blur_sigma: tuple[float, float] = (0.5, 1.5)

    def __post_init__(self) -> None:
        for name in ("p_hflip", "p_vflip", "p_blur"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"AugmentConfig.{name} must be in [0, 1], got {value}")
        if self.p_hflip + self.p_vflip + self.p_blur == 0:
            raise ValueError("AugmentConfig: at least one of p_hflip, p_vflip, p_blur must be positive")
        low, high = self.blur_sigma
        if not 0 < low <= high:
            raise ValueError(f"AugmentConfig.blur_sigma must be (low, high) with 0 < low <= high, got {self.blur_sigma}")


def _stable_int(text: str) -> int:
    # Python's hash() is salted per process; cache keys must not be.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def draw_augment(seed: int, source_key: str, copy: int, config: AugmentConfig = AugmentConfig()) -> AugmentOp:
    """The op for augmented copy number `copy` (>= 1) of the item `source_key`; never the identity.

    An identity draw would make the "augmented" copy a plain duplicate, so
    draws are repeated (deterministically) until some op applies.
    """
    if copy < 1:
        raise ValueError(f"copy must be >= 1 (0 is the original sample), got {copy}")
    rng = np.random.default_rng([seed, _stable_int(source_key), copy])
    while True:
        hflip = bool(rng.random() < config.p_hflip)
        vflip = bool(rng.random() < config.p_vflip)
        blur = bool(rng.random() < config.p_blur)
        sigma = float(rng.uniform(*config.blur_sigma)) if blur else 0.0
        # Rounded so the cache key (3 decimals) names exactly the op applied.
        op = AugmentOp(hflip, vflip, round(sigma, 3))
        if not op.is_identity:
            return op


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian, radius ceil(3 sigma): sums to 1, so flat regions keep their value."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(pixels: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable blur of [n, c, H, W] per channel, with reflected borders (no dark frame)."""
    kernel = gaussian_kernel1d(sigma).to(pixels.dtype)
    channels = pixels.shape[1]
    radius = (len(kernel) - 1) // 2
    # Reflect padding needs the pad smaller than the side; tiny images get replicate.
    mode = "reflect" if min(pixels.shape[-2:]) > radius else "replicate"
    out = F.pad(pixels, (radius, radius, 0, 0), mode=mode)
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode=mode)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def apply_augment(pixels: np.ndarray, op: AugmentOp) -> np.ndarray:
    """Apply `op` to preprocessed pixels float32 [3, H, W]; returns a new array of the same shape."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 3:
        raise ValueError(f"apply_augment expects pixels [C, H, W], got shape {pixels.shape}")
    out = pixels
    if op.hflip:
        out = out[:, :, ::-1]
    if op.vflip:
        out = out[:, ::-1, :]
    if op.blur_sigma > 0:
        tensor = torch.from_numpy(np.ascontiguousarray(out)).unsqueeze(0)
        out = gaussian_blur(tensor, op.blur_sigma)[0].numpy()
    return np.ascontiguousarray(out, dtype=np.float32)
