"""The one encoder interface every space uses.

Image encoders split work in two so the indexer can parallelise it:
`preprocess` (PIL image -> float32 CHW array, picklable, runs in decode
workers) and `encode_pixels` (batched tensor -> embeddings, runs in the main
process). `encode` chains both for callers that do not care (the API).
"""
from __future__ import annotations

import abc
from typing import Any, Sequence

import numpy as np

from vitrina.schemas import EncoderInfo, Modality


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # A zero vector stays zero instead of becoming NaN.
    return x / np.maximum(norms, 1e-12)


class Encoder(abc.ABC):
    spec: str
    modality: Modality
    dim: int

    @property
    @abc.abstractmethod
    def fingerprint(self) -> str:
        """Hash of weights + preprocessing."""

    @abc.abstractmethod
    def encode(self, batch: Sequence[Any]) -> np.ndarray:
        """float32 [n, dim], L2-normalised."""

    def preprocessing(self) -> dict[str, Any]:
        return {}

    def info(self) -> EncoderInfo:
        return EncoderInfo(
            spec=self.spec,
            modality=self.modality,
            dim=self.dim,
            fingerprint=self.fingerprint,
            preprocessing=self.preprocessing(),
        )


class TextEncoder(Encoder):
    modality = Modality.TEXT

    @abc.abstractmethod
    def encode(self, batch: Sequence[str]) -> np.ndarray: ...


class ImageEncoder(Encoder):
    modality = Modality.IMAGE

    @abc.abstractmethod
    def preprocess(self, image: "PIL.Image.Image") -> np.ndarray:  # noqa: F821
        """RGB PIL image -> float32 [3, H, W] ready for encode_pixels."""

    @abc.abstractmethod
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """float32 [n, 3, H, W] -> float32 [n, dim], L2-normalised."""

    def encode(self, batch: Sequence["PIL.Image.Image"]) -> np.ndarray:  # noqa: F821
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_pixels(np.stack([self.preprocess(im) for im in batch]))
