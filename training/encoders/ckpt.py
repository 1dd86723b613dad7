"""`ckpt:<dir>` encoders: checkpoints written by `vitrina train`.

A folder's vitrina_ckpt.json says its kind:
- "joint" (training/checkpoint.py): per modality, a frozen base encoder + a trained
  projection head; `modality` picks the tower. The vector is
  L2-normalise(head(base.encode(x))), the same computation training evaluated.
- "backbone" (training/backbone_ckpt.py): a fine-tuned image encoder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from vitrina.schemas import Modality
from vitrina.training.encoders.base import Encoder, ImageEncoder, TextEncoder, l2_normalise
from vitrina.training.encoders.errors import EncoderSpecError
from vitrina.training.encoders.fingerprint import make_fingerprint

BaseFactory = Callable[..., Encoder]  # (spec, modality=, device=) -> Encoder


def create_ckpt_encoder(
    spec: str, path: str, modality: Modality | None, device: str | None, base_factory: BaseFactory | None = None
) -> Encoder:
    """The encoder of checkpoint folder `path`; `base_factory` defaults to `create_encoder`."""
    from vitrina.training.checkpoint import CheckpointError, load_joint_checkpoint, read_checkpoint_meta

    try:
        kind = read_checkpoint_meta(path).get("kind")
    except CheckpointError as exc:
        raise EncoderSpecError(spec, str(exc)) from None
    if kind == "backbone":
        return _backbone(spec, path, modality, device)
    if kind != "joint":
        raise EncoderSpecError(spec, f"checkpoint kind {kind!r} is unknown; expected 'joint' or 'backbone'")
    try:
        checkpoint = load_joint_checkpoint(path)
    except CheckpointError as exc:
        raise EncoderSpecError(spec, str(exc)) from None
    available = sorted(m.value for m in checkpoint.towers)
    if modality is None:
        if len(checkpoint.towers) > 1:
            raise EncoderSpecError(spec, f"joint checkpoint has towers {available}; pass modality='image' or 'text'")
        modality = next(iter(checkpoint.towers))
    if modality not in checkpoint.towers:
        raise EncoderSpecError(spec, f"joint checkpoint has no {modality.value} tower (towers: {available})")
    tower = checkpoint.towers[modality]
    if base_factory is None:
        # Imported here: the factory imports this module to route ckpt: specs.
        from vitrina.training.encoders.factory import create_encoder as base_factory
    base = base_factory(tower.base_spec, modality=modality, device=device)
    if base.fingerprint != tower.base_fingerprint:
        raise EncoderSpecError(
            spec,
            f"base encoder {tower.base_spec!r} now has fingerprint {base.fingerprint}, but the {modality.value} head was "
            f"trained on {tower.base_fingerprint}: retrain the checkpoint on the current base weights",
        )
    identity = _JointTowerIdentity(tower.base_spec, base, checkpoint.heads[modality], tower.head.to_dict(),
                                   checkpoint.weights_digests[modality], checkpoint.dim)
    if modality is Modality.IMAGE:
        return JointImageEncoder(spec, base, identity)  # type: ignore[arg-type]
    return JointTextEncoder(spec, base, identity)  # type: ignore[arg-type]


class _JointTowerIdentity:
    """Head, joint dimension, fingerprint and manifest entry shared by both tower classes."""

    def __init__(self, base_spec: str, base: Encoder, head: nn.Module, head_config: dict[str, Any], head_digest: str, dim: int):
        self.head = head.eval()
        self.dim = dim
        self.preprocessing = {
            "base_spec": base_spec,
            "base_fingerprint": base.fingerprint,
            "base_preprocessing": base.preprocessing(),
            "head": head_config,
        }
        # Base fingerprint + head weights + head config: retraining or a new base changes it.
        self.fingerprint = make_fingerprint(
            "JointTower", head_digest, {"base_fingerprint": base.fingerprint, "head": head_config}
        )

    def project(self, base_vectors: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            projected = self.head(torch.from_numpy(np.ascontiguousarray(base_vectors, dtype=np.float32)))
        return l2_normalise(projected.numpy())


class _JointTower:
    """What both towers share: identity, and the head alone for callers holding base vectors."""

    base: Encoder
    _identity: _JointTowerIdentity

    @property
    def fingerprint(self) -> str:
        return self._identity.fingerprint

    @property
    def base_fingerprint(self) -> str:
        return self.base.fingerprint

    def project(self, base_vectors: np.ndarray) -> np.ndarray:
        """The tower's vectors from its base encoder's vectors (the indexer reuses stored ones)."""
        return self._identity.project(base_vectors)

    def preprocessing(self) -> dict[str, Any]:
        return dict(self._identity.preprocessing)


class JointImageEncoder(_JointTower, ImageEncoder):
    def __init__(self, spec: str, base: ImageEncoder, identity: _JointTowerIdentity):
        self.spec, self.base, self._identity, self.dim = spec, base, identity, identity.dim
        # The base's picklable preprocessor, so decode workers never receive the head or the model.
        self.preprocess = base.preprocess

    def preprocess(self, image) -> np.ndarray:  # type: ignore[override]  # replaced per instance in __init__
        return self.base.preprocess(image)

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        if len(pixels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.project(self.base.encode_pixels(pixels))


class JointTextEncoder(_JointTower, TextEncoder):
    def __init__(self, spec: str, base: TextEncoder, identity: _JointTowerIdentity):
        self.spec, self.base, self._identity, self.dim = spec, base, identity, identity.dim

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        texts = list(batch)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.project(self.base.encode(texts))


def _backbone(spec: str, path: str, modality: Modality | None, device: str | None) -> Encoder:
    from vitrina.training.backbone_ckpt import load_backbone_encoder

    if modality is Modality.TEXT:
        raise EncoderSpecError(spec, "backbone checkpoints hold an image encoder, but modality 'text' was asked for")
    return load_backbone_encoder(Path(path), spec=spec, device=device)
