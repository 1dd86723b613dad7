"""Joint-space checkpoints: per modality, a frozen base encoder named by its spec plus a trained head.

Layout of `<dir>` (loadable as `ckpt:<dir>`):

    vitrina_ckpt.json    {"format_version": 1, "kind": "joint", "dim": 256,
                          "towers": {"image": {"base_spec", "base_fingerprint", "head": HeadConfig,
                                               "weights_digest"}, "text": {...}},
                          "training": {...report...}, "libraries": {...}}
    heads.safetensors    every head's state_dict, keys prefixed "<modality>."
    heldout_ids.txt      optional: the items kept out of training, one id per line

The base weights are not copied: the base is rebuilt from its spec, and its
fingerprint must equal `base_fingerprint`, since a head only means something
on the exact features it was trained on.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vitrina.schemas import Modality
from vitrina.training.encoders.fingerprint import jsonable, weights_digest
from vitrina.training.heads import HeadConfig, HeadConfigError, create_head
from vitrina.schemas.errors import FieldError

# Same file name as backbone checkpoints: one file says what any ckpt: folder holds ("kind").
CKPT_FILE = "vitrina_ckpt.json"
HEADS_FILE = "heads.safetensors"
HELDOUT_FILE = "heldout_ids.txt"
JOINT_KIND = "joint"
FORMAT_VERSION = 1
_LIBRARIES = ("torch", "numpy", "safetensors", "transformers", "scikit-learn", "vitrina")


class CheckpointError(FieldError):
    """A checkpoint folder that cannot be read or written; names the file and field."""

    def __init__(self, path: str | Path, field_name: str, problem: str):
        super().__init__(field_name, problem, path)


@dataclass(frozen=True)
class TowerRecord:
    """How to rebuild one tower: base encoder spec, the fingerprint it must have, the head."""

    base_spec: str
    base_fingerprint: str
    head: HeadConfig

    def to_dict(self) -> dict[str, Any]:
        return {"base_spec": self.base_spec, "base_fingerprint": self.base_fingerprint, "head": self.head.to_dict()}


@dataclass
class JointCheckpoint:
    path: Path
    dim: int
    towers: dict[Modality, TowerRecord]
    heads: dict[Modality, nn.Module]  # in eval mode
    weights_digests: dict[Modality, str]
    training: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def head_state(head: nn.Module) -> dict[str, torch.Tensor]:
    # Cloned and contiguous: safetensors refuses shared or strided storage.
    return {name: t.detach().cpu().clone().contiguous() for name, t in head.state_dict().items()}


def save_joint_checkpoint(
    path: str | Path,
    towers: Mapping[Modality, TowerRecord],
    heads: Mapping[Modality, nn.Module],
    training: Mapping[str, Any] | None = None,
    heldout_ids: list[str] | None = None,
) -> Path:
    """Write heads and metadata; the JSON goes last, so a folder with vitrina_ckpt.json is complete."""
    path = Path(path)
    if set(towers) != set(heads) or not towers:
        raise CheckpointError(path, "towers", f"need one head per tower, got towers {sorted(towers)} and heads {sorted(heads)}")
    dims = {m: t.head.out_dim for m, t in towers.items()}
    if len(set(dims.values())) != 1:
        raise CheckpointError(path, "towers.head.out_dim", f"towers must share one joint dimension, got {dims}")
    path.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    digests: dict[str, str] = {}
    for modality, head in heads.items():
        state = head_state(head)
        digests[Modality(modality).value] = weights_digest(state)
        tensors.update({f"{Modality(modality).value}.{name}": t for name, t in state.items()})
    _replace_atomically(path / HEADS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    if heldout_ids is not None:
        _replace_atomically(path / HELDOUT_FILE, lambda tmp: tmp.write_text("".join(f"{i}\n" for i in heldout_ids)))
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": JOINT_KIND,
        "dim": next(iter(dims.values())),
        "towers": {
            Modality(m).value: {**t.to_dict(), "weights_digest": digests[Modality(m).value]} for m, t in towers.items()
        },
        "training": jsonable(dict(training or {})),
        "libraries": library_versions(),
    }
    _replace_atomically(path / CKPT_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))
    return path


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / CKPT_FILE
    if not meta_path.is_file():
        raise CheckpointError(meta_path, "(file)", "is missing: not a checkpoint folder written by `vitrina train`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(meta_path, "(file)", f"is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(meta_path, "(file)", "must hold a JSON object")
    return meta


def load_joint_checkpoint(path: str | Path) -> JointCheckpoint:
    """Read the metadata, rebuild every head and load its weights (strict, digest-checked)."""
    path = Path(path)
    meta_path = path / CKPT_FILE
    meta = read_checkpoint_meta(path)
    if meta.get("kind") != JOINT_KIND:
        raise CheckpointError(meta_path, "kind", f"is {meta.get('kind')!r}, expected {JOINT_KIND!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(meta_path, "format_version", f"{meta.get('format_version')!r} is not supported (expected {FORMAT_VERSION})")
    raw_towers = meta.get("towers")
    if not isinstance(raw_towers, dict) or not raw_towers:
        raise CheckpointError(meta_path, "towers", "must map modality names (image, text) to tower records")
    weights_path = path / HEADS_FILE
    if not weights_path.is_file():
        raise CheckpointError(weights_path, "(file)", "is missing: the checkpoint was not completely copied")
    tensors = load_file(str(weights_path))
    towers: dict[Modality, TowerRecord] = {}
    heads: dict[Modality, nn.Module] = {}
    digests: dict[Modality, str] = {}
    for name, raw in raw_towers.items():
        modality, record, digest = _parse_tower(meta_path, name, raw)
        prefix = f"{modality.value}."
        state = {key[len(prefix):]: t for key, t in tensors.items() if key.startswith(prefix)}
        if weights_digest(state) != digest:
            raise CheckpointError(weights_path, f"towers.{name}.weights_digest", "does not match the stored weights: the file was changed or truncated")
        head = create_head(record.head)
        try:
            head.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(weights_path, f"towers.{name}.head", f"does not fit its weights: {exc}") from exc
        towers[modality], heads[modality], digests[modality] = record, head.eval(), digest
    return JointCheckpoint(
        path=path,
        dim=int(meta.get("dim", next(iter(towers.values())).head.out_dim)),
        towers=towers,
        heads=heads,
        weights_digests=digests,
        training=meta.get("training", {}),
        libraries=meta.get("libraries", {}),
    )


def read_heldout_ids(path: str | Path) -> list[str] | None:
    heldout = Path(path) / HELDOUT_FILE
    if not heldout.is_file():
        return None
    return [line.strip() for line in heldout.read_text().splitlines() if line.strip()]


def _parse_tower(meta_path: Path, name: str, raw: Any) -> tuple[Modality, TowerRecord, str]:
    try:
        modality = Modality(name)
    except ValueError:
        raise CheckpointError(meta_path, f"towers.{name}", f"is not a modality; expected {[m.value for m in Modality]}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(meta_path, f"towers.{name}", "must be an object")
    for key in ("base_spec", "base_fingerprint", "head", "weights_digest"):
        if key not in raw:
            raise CheckpointError(meta_path, f"towers.{name}.{key}", "is missing")
    try:
        head = HeadConfig.from_dict(raw["head"])
    except (HeadConfigError, TypeError) as exc:
        raise CheckpointError(meta_path, f"towers.{name}.head", str(exc)) from exc
    return modality, TowerRecord(raw["base_spec"], raw["base_fingerprint"], head), raw["weights_digest"]


def _replace_atomically(target: Path, write) -> None:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, target)
