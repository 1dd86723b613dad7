"""Projection heads: small trainable maps from a frozen encoder's features into a joint space.

A head is described by a `HeadConfig` (plain data, written into checkpoints) and
built by `create_head`, so a checkpoint can rebuild exactly the module it saved.
Heads return unnormalised vectors; towers L2-normalise after the head.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import torch
from torch import nn

from vitrina.schemas.errors import FieldError

HEAD_KINDS = ("linear", "mlp")


class HeadConfigError(FieldError):
    """A head configuration with a missing or unusable field; names the field."""

    def describe(self) -> str:
        return f"head config field '{self.field}': {self.problem}"


@dataclass(frozen=True)
class HeadConfig:
    """`linear`: one affine map. `mlp`: affine skip + Linear-GELU-Dropout-Linear branch.

    The MLP keeps a linear skip so it starts no worse than the linear head and
    only has to learn the non-linear correction; on a few thousand pairs a
    plain two-layer MLP overfits before it catches up.
    """

    in_dim: int
    out_dim: int
    kind: str = "linear"
    hidden_dim: int = 1024
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in HEAD_KINDS:
            raise HeadConfigError("kind", f"{self.kind!r} is not one of {', '.join(HEAD_KINDS)}")
        for name in ("in_dim", "out_dim", "hidden_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise HeadConfigError(name, f"must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise HeadConfigError("dropout", f"must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HeadConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HeadConfigError(unknown[0], f"unknown field; expected some of {sorted(known)}")
        for required in ("in_dim", "out_dim"):
            if required not in data:
                raise HeadConfigError(required, "is missing")
        return cls(**dict(data))


class LinearHead(nn.Module):
    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.in_dim, config.out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)


class MlpHead(nn.Module):
    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        self.skip = nn.Linear(config.in_dim, config.out_dim)
        self.branch = nn.Sequential(
            nn.Linear(config.in_dim, config.hidden_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_dim, config.out_dim),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.skip(features) + self.branch(features)


def create_head(config: HeadConfig) -> nn.Module:
    if config.kind == "linear":
        return LinearHead(config)
    return MlpHead(config)
