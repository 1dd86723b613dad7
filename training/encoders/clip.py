"""`hf:` CLIP: one spec, two towers projecting into one joint space.

Each tower is its own encoder (image for the index, text for queries, or
the reverse). Both load the whole CLIPModel: simpler than the per-tower
classes, whose configs disagree on `projection_dim` in some checkpoints,
at the cost of holding the unused tower in memory.
"""
from __future__ import annotations

import torch

from vitrina.training.encoders.hf_text import HfTextEncoder
from vitrina.training.encoders.hf_vision import HfClsImageEncoder

DUAL_TOWER_MODEL_TYPES = ("clip",)


def _joint_embedding(output) -> torch.Tensor:
    # transformers 5 returns an output object whose pooler_output is the
    # projected (joint-space) embedding; transformers 4 returned the tensor.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipImageEncoder(HfClsImageEncoder):
    def _output_dim(self, model) -> int:
        return model.config.projection_dim

    def _identity(self) -> dict:
        return {"tower": "image"}

    def _embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return _joint_embedding(self.model.get_image_features(pixel_values=pixels))


class ClipTextEncoder(HfTextEncoder):
    def _text_config(self, model):
        return model.config.text_config

    def _output_dim(self, model) -> int:
        return model.config.projection_dim

    def _identity(self) -> dict:
        return {"tower": "text"}

    def _embed_tokens(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        return _joint_embedding(self.model.get_text_features(**tokens))
