"""InfoNCE with explicit negatives: one anchor, one positive, K negatives per example."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class InfoNCELoss(nn.Module):
    """anchor [N, d], positive [N, d], negatives [N, K, d].

    Each anchor is scored (cosine / temperature) against its positive and its own K
    negatives, and a cross-entropy over those K + 1 logits puts the positive first.
    Unlike in-batch losses the negatives are chosen by the caller, e.g. items of a
    different category, so no negative is a paraphrase of the anchor by accident.
    """

    citation = (
        "@article{oord2018cpc,\n"
        "  title={Representation Learning with Contrastive Predictive Coding},\n"
        "  author={van den Oord, Aaron and Li, Yazhe and Vinyals, Oriol},\n"
        "  journal={arXiv:1807.03748}, year={2018}\n}"
    )

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def get_logits(self, anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """[N, 1 + K]: column 0 the positive, then the negatives."""
        if anchor.ndim != 2 or positive.shape != anchor.shape:
            raise ValueError(f"anchor and positive must both be [N, d], got {tuple(anchor.shape)} and {tuple(positive.shape)}")
        if negatives.ndim != 3 or negatives.shape[0] != anchor.shape[0] or negatives.shape[2] != anchor.shape[1]:
            raise ValueError(f"negatives must be [N, K, d] = [{anchor.shape[0]}, K, {anchor.shape[1]}], got {tuple(negatives.shape)}")
        anchor = F.normalize(anchor, dim=-1)
        positive = F.normalize(positive, dim=-1)
        negatives = F.normalize(negatives, dim=-1)
        positive_scores = (anchor * positive).sum(-1, keepdim=True)
        negative_scores = torch.einsum("nd,nkd->nk", anchor, negatives)
        return torch.cat([positive_scores, negative_scores], dim=1) / self.temperature

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        logits = self.get_logits(anchor, positive, negatives)
        targets = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits, targets)

    def get_config_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature}
