"""NT-Xent (SimCLR's loss, used by unsupervised SimCSE) over two views of one batch."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class NTXentLoss(nn.Module):
    """Rows i of `view_a` and `view_b` are two views of one example (for SimCSE: the same
    text encoded twice with different dropout masks).

    All 2N normalised embeddings are compared with each other (a 2N x 2N cosine matrix
    divided by the temperature); each row's own entry is masked out, since an embedding
    trivially matches itself, and a cross-entropy picks the other view among the
    remaining 2N - 1, so each example has 2N - 2 negatives.
    """

    citation = (
        "@inproceedings{chen2020simclr,\n"
        "  title={A Simple Framework for Contrastive Learning of Visual Representations},\n"
        "  author={Chen, Ting and Kornblith, Simon and Norouzi, Mohammad and Hinton, Geoffrey},\n"
        "  booktitle={ICML}, year={2020}\n}\n"
        "@inproceedings{gao2021simcse,\n"
        "  title={SimCSE: Simple Contrastive Learning of Sentence Embeddings},\n"
        "  author={Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},\n"
        "  booktitle={EMNLP}, year={2021}\n}"
    )

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, view_a: torch.Tensor, view_b: torch.Tensor) -> torch.Tensor:
        if view_a.shape != view_b.shape:
            raise ValueError(f"view_a {tuple(view_a.shape)} and view_b {tuple(view_b.shape)} must have the same shape")
        n = view_a.shape[0]
        if n < 2:
            raise ValueError("NT-Xent needs a batch of at least 2 examples: a single one has no negatives")
        embeddings = F.normalize(torch.cat([view_a, view_b]), dim=-1)
        logits = embeddings @ embeddings.T / self.temperature
        self_pairs = torch.eye(2 * n, dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(self_pairs, float("-inf"))
        # Row i (view a) finds its partner at i + n, row i + n (view b) at i.
        targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(logits.device)
        return F.cross_entropy(logits, targets)

    def get_config_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature}
