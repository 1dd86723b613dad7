"""`hf:` text encoders (BERT, RoBERTa, MPNet, ...): mean of token states over the attention mask.

Mean pooling is what sentence-transformers checkpoints are trained for and
a reasonable default for plain BERT-likes, whose CLS state is untrained for
similarity.
"""
from __future__ import annotations

import json

import torch

from vitrina.training.encoders.fingerprint import canonical_json, text_digest
from vitrina.training.encoders.hf_loading import load_model, load_tokenizer
from vitrina.training.encoders.torch_base import DEFAULT_TEXT_BATCH_SIZE, TorchTextEncoder

DEFAULT_MAX_LENGTH = 256
# Tokenizers without a configured limit report a huge sentinel (int(1e30)).
_NO_LIMIT = 1_000_000


class HfTextEncoder(TorchTextEncoder):
    def __init__(
        self,
        spec: str,
        source: str,
        device: str | None = None,
        batch_size: int = DEFAULT_TEXT_BATCH_SIZE,
        max_length: int = DEFAULT_MAX_LENGTH,
    ):
        # Tokenizer first: it fails fast, the weights take seconds to load.
        tokenizer = load_tokenizer(spec, source)
        model, weights = load_model(spec, source)
        limit = effective_max_length(max_length, tokenizer, self._text_config(model))
        super().__init__(spec, self._output_dim(model), model, tokenizer, limit, device, batch_size)
        self._set_identity(
            weights,
            {"tokenizer": type(tokenizer).__name__, "max_length": limit, **self._identity()},
            extra={"tokenizer_sha256": tokenizer_digest(tokenizer)},
        )

    # Overridden by towers of multi-modal models (CLIP), which share the loading above.
    def _text_config(self, model):
        return model.config

    def _output_dim(self, model) -> int:
        return model.config.hidden_size

    def _identity(self) -> dict:
        return {"pooling": "mean"}

    def _embed_tokens(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        states = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def effective_max_length(requested: int, tokenizer, config) -> int:
    """The smallest of the requested length and the tokenizer's and model's limits."""
    limits = [requested]
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and model_max < _NO_LIMIT:
        limits.append(model_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits)


def tokenizer_digest(tokenizer) -> str:
    """Hash of what decides token ids: vocabulary, merges, normaliser, special tokens.

    Padding and truncation settings are dropped: they are call-time state the
    tokenizer serialises too, and would make the hash depend on past calls.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        for volatile in ("padding", "truncation", "version"):
            spec.pop(volatile, None)
    else:
        spec = {"vocab": tokenizer.get_vocab()}
    spec["special_tokens"] = getattr(tokenizer, "special_tokens_map", {})
    spec["class"] = type(tokenizer).__name__
    return text_digest(canonical_json(spec))
