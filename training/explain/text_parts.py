"""What explaining a text needs from a text encoder.

- its tokenizer (fast: character offsets and word ids) with the lock that guards it,
- the word-embedding layer, where Integrated Gradients interpolates,
- a differentiable forward pass (token ids + attention mask -> unnormalised
  vector in the encoder's space).

Word attributions hook the embedding layer (text_words.py), and a hook on the
encoder's shared model would also rewrite the embeddings of any inference
thread encoding at the same moment. So the parts run on a private copy of the
module tree that shares every weight and buffer (no memory copied, parameters
frozen so nothing accumulates gradients): the encoder itself is never touched.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from vitrina.training.encoders.ckpt import JointTextEncoder
from vitrina.training.explain.errors import ExplainError
from vitrina.training.explain.joint import through_joint_head

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (input_ids, attention_mask) -> [n, dim]


@dataclass(frozen=True)
class TextParts:
    tokenizer: Any
    tokenizer_lock: threading.Lock  # the encoder's own: fast tokenizers fail when two threads call at once
    max_length: int
    embedding: nn.Embedding  # word embeddings of the private copy: safe to hook
    forward: Forward  # differentiable; padding masked out by attention_mask
    device: torch.device
    dim: int


def text_parts(encoder: Any) -> TextParts:
    """The parts of `encoder`: an `hf:`/builtin text encoder, a CLIP text tower or a joint checkpoint's text tower."""
    # Imported here: transformers takes seconds to import, and the check needs the classes.
    from vitrina.training.encoders.clip import ClipTextEncoder
    from vitrina.training.encoders.hf_text import HfTextEncoder

    if isinstance(encoder, JointTextEncoder):
        return _joint_parts(encoder, text_parts(encoder.base))
    if isinstance(encoder, ClipTextEncoder):
        model = shared_weights_copy(encoder.model)
        return _parts(encoder, model.text_model.embeddings.token_embedding,
                      lambda ids, mask: _clip_forward(model, ids, mask))
    if isinstance(encoder, HfTextEncoder):
        # A shallow copy of the encoder running the private model: its own `_embed_tokens`
        # (mean pooling, or whatever a subclass does), not a second implementation of it.
        view = copy.copy(encoder)
        view.model = shared_weights_copy(encoder.model)
        return _parts(encoder, view.model.get_input_embeddings(),
                      lambda ids, mask: view._embed_tokens({"input_ids": ids, "attention_mask": mask}))
    raise ExplainError(f"cannot explain texts of encoder {getattr(encoder, 'spec', type(encoder).__name__)!r}: "
                       "word attributions need an hf:/builtin text encoder, a CLIP text tower "
                       "or a joint checkpoint's text tower")


def shared_weights_copy(module: nn.Module) -> nn.Module:
    """A copy of `module`'s tree (own hooks, own attributes) over the same weight and buffer storage."""
    memo: dict[int, Any] = {id(p): nn.Parameter(p.detach(), requires_grad=False) for p in module.parameters()}
    memo.update({id(b): b for b in module.buffers()})
    return copy.deepcopy(module, memo)


def _parts(encoder: Any, embedding: nn.Module, forward: Forward) -> TextParts:
    if not getattr(encoder.tokenizer, "is_fast", False):
        raise ExplainError(f"encoder {encoder.spec!r}: word attributions need a fast tokenizer (character offsets and "
                           f"word ids), got {type(encoder.tokenizer).__name__}")
    device = torch.device(encoder.device)
    return TextParts(encoder.tokenizer, encoder._tokenizer_lock, encoder.max_length, embedding,
                     lambda ids, mask: forward(ids.to(device), mask.to(device)), device, encoder.dim)


def _clip_forward(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    # CLIP pools the state at the first end-of-text id, and OpenAI's tokenizer pads
    # with that very id: on the baseline (PAD between start and end) the first PAD
    # would be taken as the end. The tokenizer always puts the end token last, so
    # pooling at the last attended position gives the encoder's vectors for real
    # texts and one fixed pooling position all along the path to the baseline.
    states = model.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask * positions).argmax(dim=1)
    return model.text_projection(states[torch.arange(len(states), device=states.device), last])


def _joint_parts(encoder: JointTextEncoder, base: TextParts) -> TextParts:
    return TextParts(base.tokenizer, base.tokenizer_lock, base.max_length, base.embedding,
                     through_joint_head(encoder, base.forward), base.device, encoder.dim)
