"""A joint checkpoint tower's differentiable forward: its base encoder's, then its head."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F


def through_joint_head(tower: Any, base_forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`base_forward` (inputs -> base vectors) followed by `tower`'s projection head."""
    head = tower._identity.head
    head_device = next(head.parameters(), torch.empty(0)).device

    def forward(*inputs: torch.Tensor) -> torch.Tensor:
        # The tower is head(L2-normalise(base vector)): the head was trained on normalised vectors.
        return head(F.normalize(base_forward(*inputs), dim=1).to(head_device))

    return forward
