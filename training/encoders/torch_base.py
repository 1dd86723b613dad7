"""Shared machinery of the PyTorch encoders: batching, device, normalising, fingerprint.

Subclasses only say how one batch becomes raw embeddings (`_embed_pixels`,
`_embed_tokens`); everything that must be identical across encoders (float32
output, L2 normalisation, empty batches, chunking) lives here once.
"""
from __future__ import annotations

import abc
import threading
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from vitrina.training.encoders.base import ImageEncoder, TextEncoder, l2_normalise
from vitrina.training.encoders.fingerprint import jsonable, make_fingerprint
from vitrina.training.encoders.runtime import chunks, resolve_device

DEFAULT_IMAGE_BATCH_SIZE = 32
DEFAULT_TEXT_BATCH_SIZE = 64


class _FingerprintedMixin:
    """Holds the fingerprint computed once at load time, and the manifest's preprocessing entry;
    and the ONNX Runtime session that replaces the torch forward pass under `--runtime onnx`."""

    _fingerprint: str
    _preprocessing: dict[str, Any]
    _onnx: Any = None

    def run_forward_with(self, session: Any) -> None:
        """Compute the forward pass with `session` (encoders/onnx_runtime.py) instead of torch."""
        self._onnx = session

    def requantised(self, fingerprint: str, preprocessing: Mapping[str, Any]) -> None:
        """A quantised forward pass gives other vectors: a new fingerprint, and what changed."""
        self._fingerprint = fingerprint
        self._preprocessing = {**self._preprocessing, **jsonable(dict(preprocessing))}

    def _set_identity(self, weights: str, preprocessing: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
        # `extra` feeds the fingerprint without cluttering the manifest (e.g. a tokenizer's hash).
        self._preprocessing = jsonable(dict(preprocessing))
        self._fingerprint = make_fingerprint(type(self).__name__, weights, {**self._preprocessing, **(extra or {})})

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def preprocessing(self) -> dict[str, Any]:
        return dict(self._preprocessing)


class TorchImageEncoder(_FingerprintedMixin, ImageEncoder):
    def __init__(
        self,
        spec: str,
        dim: int,
        model: torch.nn.Module,
        preprocessor: Callable[[Any], np.ndarray],
        device: str | None,
        batch_size: int = DEFAULT_IMAGE_BATCH_SIZE,
    ):
        self.spec = spec
        self.dim = dim
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.model = model.eval().to(self.device)
        self._preprocessor = preprocessor
        # Shadow the bound method with the small picklable preprocessor, so
        # DataLoader workers started with "spawn" receive it without the model.
        self.preprocess = preprocessor

    def preprocess(self, image) -> np.ndarray:  # type: ignore[override]  # replaced per instance in __init__
        return self._preprocessor(image)

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 4 or pixels.shape[1] != 3:
            raise ValueError(f"{self.spec}: expected pixels of shape [n, 3, H, W], got {pixels.shape}")
        if len(pixels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        if self._onnx is not None:
            for batch in chunks(pixels, self.batch_size):
                parts.append(self._onnx.run({"pixels": batch}))
            return l2_normalise(np.concatenate(parts))
        with torch.inference_mode():
            for batch in chunks(pixels, self.batch_size):
                tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
                parts.append(self._embed_pixels(tensor).float().cpu().numpy())
        return l2_normalise(np.concatenate(parts))

    @abc.abstractmethod
    def _embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """[n, 3, H, W] on self.device -> [n, dim], not yet normalised."""


class TorchTextEncoder(_FingerprintedMixin, TextEncoder):
    def __init__(
        self,
        spec: str,
        dim: int,
        model: torch.nn.Module,
        tokenizer,
        max_length: int,
        device: str | None,
        batch_size: int = DEFAULT_TEXT_BATCH_SIZE,
    ):
        self.spec = spec
        self.dim = dim
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.max_length = max_length
        self.model = model.eval().to(self.device)
        self.tokenizer = tokenizer
        # Fast tokenizers change internal padding/truncation state on every
        # call and fail ("Already borrowed") when two API threads call at once.
        self._tokenizer_lock = threading.Lock()

    def tokenize(self, texts: Sequence[str], tensors: str = "pt") -> dict[str, Any]:
        """The model's inputs for `texts`, padded to the longest and truncated to max_length, as
        torch ("pt") or numpy ("np") arrays."""
        with self._tokenizer_lock:
            return dict(self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                       return_tensors=tensors))

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        texts = list(batch)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError(f"{self.spec}: text encoders take a sequence of str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batching similar lengths together wastes less compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        onnx = self._onnx
        with torch.inference_mode():
            for positions in chunks(order, self.batch_size):
                tokens = self.tokenize([texts[i] for i in positions], "np" if onnx is not None else "pt")
                if onnx is not None:
                    out[list(positions)] = onnx.run(tokens)
                    continue
                tokens = {name: value.to(self.device) for name, value in tokens.items()}
                out[list(positions)] = self._embed_tokens(tokens).float().cpu().numpy()
        return l2_normalise(out)

    @abc.abstractmethod
    def _embed_tokens(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokenizer output on self.device -> [n, dim], not yet normalised."""
