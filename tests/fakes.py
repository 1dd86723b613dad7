"""Deterministic stand-ins for encoders, so bundle/API tests run in milliseconds.

They follow the real Encoder interface (preprocess/encode_pixels for images)
and have meaningful geometry: texts sharing words are close, images of
similar colour are close, which lets tests assert ranks, not just shapes.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np

from vitrina.schemas import Modality
from vitrina.training.encoders.base import ImageEncoder, TextEncoder, l2_normalise

_WORD = re.compile(r"[a-z0-9]+")


class FakeTextEncoder(TextEncoder):
    dim = 64

    def __init__(self, spec: str = "fake:text"):
        self.spec = spec
        self.calls = 0

    @property
    def fingerprint(self) -> str:
        return "fake-text-v1"

    def encode(self, batch):
        self.calls += 1
        out = np.zeros((len(batch), self.dim), dtype=np.float32)
        for row, text in enumerate(batch):
            for word in _WORD.findall(text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim
                out[row, bucket] += 1.0
        out[:, 0] += 1e-3  # an empty text still gets a direction
        return l2_normalise(out)


class FakeImageEncoder(ImageEncoder):
    """Colour histogram (4x4x4 bins) of an 8x8 thumbnail."""

    dim = 64

    def __init__(self, spec: str = "fake:image"):
        self.spec = spec
        self.calls = 0

    @property
    def fingerprint(self) -> str:
        return "fake-image-v1"

    def preprocess(self, image):
        return np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32).transpose(2, 0, 1) / 255.0

    def encode_pixels(self, pixels):
        self.calls += 1
        pixels = np.asarray(pixels)
        bins = np.minimum((pixels * 4).astype(int), 3)
        codes = bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2]
        out = np.zeros((len(pixels), self.dim), dtype=np.float32)
        for row in range(len(pixels)):
            out[row] = np.bincount(codes[row].ravel(), minlength=self.dim)
        return l2_normalise(out)


class FakeFactory:
    """Drop-in for create_encoder; counts encoder calls per spec."""

    def __init__(self):
        self.created: dict[tuple[str, Modality], object] = {}

    def __call__(self, spec: str, modality: Modality | None = None, **_):
        key = (spec, modality)
        if key not in self.created:
            if modality is Modality.TEXT or (modality is None and "text" in spec):
                self.created[key] = FakeTextEncoder(spec)
            else:
                self.created[key] = FakeImageEncoder(spec)
        return self.created[key]
