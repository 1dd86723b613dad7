"""Symmetric InfoNCE between paired image and text embeddings, with a learnable temperature."""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class ClipLoss(nn.Module):
    """Row i of `image_embeddings` and row i of `text_embeddings` are a pair; every other row
    of the batch is a negative, in both directions.

    loss = (CE(s * I T^T, arange) + CE(s * T I^T, arange)) / 2 on L2-normalised I, T,
    with s = exp(logit_scale) learned and clamped to `max_logit_scale` (CLIP caps it at
    100 because a larger scale made training unstable).
    """

    citation = (
        "@inproceedings{radford2021clip,\n"
        "  title={Learning Transferable Visual Models From Natural Language Supervision},\n"
        "  author={Radford, Alec and Kim, Jong Wook and Hallacy, Chris and others},\n"
        "  booktitle={ICML}, year={2021}\n}"
    )

    def __init__(self, init_temperature: float = 0.07, max_logit_scale: float = 100.0, learn_temperature: bool = True):
        super().__init__()
        if not 0 < init_temperature:
            raise ValueError(f"init_temperature must be positive, got {init_temperature}")
        if not max_logit_scale > 0:
            raise ValueError(f"max_logit_scale must be positive, got {max_logit_scale}")
        self.init_temperature = init_temperature
        self.max_logit_scale = max_logit_scale
        self.learn_temperature = learn_temperature
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)), requires_grad=learn_temperature)

    @property
    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=self.max_logit_scale)

    @property
    def temperature(self) -> float:
        return float(1.0 / self.scale.detach())

    @staticmethod
    def get_ground_truth(n: int, device: torch.device) -> torch.Tensor:
        return torch.arange(n, device=device)

    def get_logits(self, image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits_per_image [n, n], logits_per_text [n, n]) on normalised inputs."""
        image = F.normalize(image_embeddings, dim=-1)
        text = F.normalize(text_embeddings, dim=-1)
        logits_per_image = self.scale * image @ text.T
        return logits_per_image, logits_per_image.T

    def forward(self, image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
        if image_embeddings.shape[0] != text_embeddings.shape[0]:
            raise ValueError(
                f"image_embeddings has {image_embeddings.shape[0]} rows, text_embeddings {text_embeddings.shape[0]}: rows must be pairs"
            )
        logits_per_image, logits_per_text = self.get_logits(image_embeddings, text_embeddings)
        labels = self.get_ground_truth(logits_per_image.shape[0], logits_per_image.device)
        return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "init_temperature": self.init_temperature,
            "max_logit_scale": self.max_logit_scale,
            "learn_temperature": self.learn_temperature,
        }
