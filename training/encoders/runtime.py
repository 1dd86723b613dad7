"""Device choice and batching helpers shared by the encoders."""
from __future__ import annotations

from typing import Iterator, Sequence, TypeVar

import torch

T = TypeVar("T")


def resolve_device(device: str | None) -> torch.device:
    """`device` if given, else CUDA when available, else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    if size <= 0:
        raise ValueError(f"batch size must be positive, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
