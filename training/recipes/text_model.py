"""A trainable view of a mean-pooled transformer text encoder.

The recipes fine-tune the very model an `hf:`/`builtin:` text encoder serves,
and save it with `save_pretrained` so the result loads back as `hf:<folder>`
with the same mean pooling: no new encoder kind, and the fingerprint changes
because the weights do. `encode` pools exactly like HfTextEncoder, which the
round-trip test pins.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from vitrina.training.encoders.base import l2_normalise
from vitrina.schemas.errors import FieldError

DEFAULT_TRAIN_MAX_LENGTH = 64


class TextModelError(FieldError):
    """The base encoder cannot be fine-tuned as asked; names the field."""


class MeanPooledTextModel(nn.Module):
    """texts -> unnormalised mean-pooled embeddings, with dropout when in train mode."""

    def __init__(self, model: nn.Module, tokenizer, max_length: int = DEFAULT_TRAIN_MAX_LENGTH,
                 encode_max_length: int | None = None):
        super().__init__()
        if max_length < 2:
            raise TextModelError("max_length", f"must be at least 2 tokens, got {max_length}")
        self.model = model
        self.tokenizer = tokenizer
        # Training truncates harder than serving (speed); `encode` truncates like
        # the served encoder, so evaluation sees what the index will.
        self.max_length = max_length
        self.encode_max_length = encode_max_length or max_length

    @classmethod
    def from_spec(cls, spec: str, max_length: int = DEFAULT_TRAIN_MAX_LENGTH, encoder_factory=None) -> "MeanPooledTextModel":
        """The model and tokenizer behind a mean-pooled text encoder spec (builtin:minilm-l6, hf:<dir>)."""
        if encoder_factory is None:
            from vitrina.training.encoders import create_encoder as encoder_factory
        encoder = encoder_factory(spec, modality="text")
        model, tokenizer = getattr(encoder, "model", None), getattr(encoder, "tokenizer", None)
        pooling = encoder.preprocessing().get("pooling")
        if model is None or tokenizer is None or pooling != "mean":
            raise TextModelError(
                "base", f"{spec} is not a mean-pooled transformer text encoder (pooling={pooling!r}); "
                "use builtin:minilm-l6 or hf:<BERT-like model>"
            )
        served = int(getattr(encoder, "max_length", max_length))
        return cls(model, tokenizer, min(max_length, served), served)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def layers(self) -> nn.ModuleList:
        for path in ("encoder.layer", "encoder.layers", "transformer.layer", "layers"):
            module = self.model
            for part in path.split("."):
                module = getattr(module, part, None)
            if isinstance(module, nn.ModuleList):
                return module
        raise TextModelError("train_layers", f"cannot find the transformer blocks of {type(self.model).__name__}")

    def train_last_layers(self, n: int | None) -> int:
        """Freeze all but the last `n` blocks (None or >= depth: train everything); returns trainable params."""
        if n is not None:
            layers = self.layers()
            if n < 1:
                raise TextModelError("train_layers", f"must be at least 1 (or None for all layers), got {n}")
            if n < len(layers):
                for param in self.model.parameters():
                    param.requires_grad_(False)
                for block in list(layers)[-n:]:
                    for param in block.parameters():
                        param.requires_grad_(True)
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length or self.max_length,
                              return_tensors="pt")

    def forward(self, texts: Sequence[str], max_length: int | None = None) -> torch.Tensor:
        device = next(self.model.parameters()).device
        tokens = {name: value.to(device) for name, value in self.tokenize(texts, max_length).items()}
        states = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, dropout off; restores the previous train/eval mode."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        was_training = self.training
        self.eval()
        # Similar lengths together: less padding, as the serving encoder does.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    out[rows] = self([texts[i] for i in rows], self.encode_max_length).float().cpu().numpy()
        finally:
            self.train(was_training)
        return l2_normalise(out)

    def save(self, folder: str | Path) -> str:
        """Write weights + tokenizer; returns the spec that loads them (`hf:<folder>`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        return f"hf:{folder}"
