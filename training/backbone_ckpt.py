"""Backbone checkpoints: a fine-tuned image encoder, heads dropped, loadable as `ckpt:<dir>`.

Layout of `<dir>`:

    vitrina_ckpt.json       {"format_version": 1, "kind": "backbone", "modality": "image",
                             "base_spec": "builtin:efficientnet-lite0", "weights": "backbone.safetensors",
                             "weights_digest": ..., "dim": 1280, "preprocess": null | {"type": "letterbox", ...},
                             "training": {...}}
    backbone.safetensors    the full state_dict of the base encoder's network, fine-tuned

Loading rebuilds the base encoder from `base_spec` (architecture, pooling,
preprocessing), loads the weights strictly, applies the preprocessing
override if any (e.g. 64 px for Fashion-MNIST), and recomputes the
fingerprint from the new weights, so a bundle indexed with the checkpoint
never matches one indexed with the base model. `hf:` bases must still be
loadable where the checkpoint is loaded (same path or HF cache).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

from safetensors.torch import load_file, save_file

from vitrina.schemas import Modality
from vitrina.training.encoders.errors import EncoderSpecError
from vitrina.training.encoders.fingerprint import jsonable, weights_digest
from vitrina.training.encoders.pixels import LetterboxNormalise
from vitrina.training.encoders.torch_base import TorchImageEncoder

CKPT_FILE = "vitrina_ckpt.json"
BACKBONE_KIND = "backbone"
WEIGHTS_FILE = "backbone.safetensors"
FORMAT_VERSION = 1


def preprocess_override(preprocess: Any) -> dict | None:
    """The JSON form of a preprocessing that differs from the base encoder's; only letterbox is portable."""
    if isinstance(preprocess, LetterboxNormalise):
        return {"type": "letterbox", **jsonable(asdict(preprocess))}
    raise TypeError(f"cannot record preprocessing {type(preprocess).__name__}; only LetterboxNormalise overrides are supported")


def build_preprocess(config: Mapping[str, Any]) -> LetterboxNormalise:
    if config.get("type") != "letterbox":
        raise ValueError(f"unknown preprocess type {config.get('type')!r}; expected 'letterbox'")
    return LetterboxNormalise(
        size=int(config["size"]),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        fill=tuple(config.get("fill", (255, 255, 255))),
    )


def save_backbone_checkpoint(
    path: str | Path,
    encoder: TorchImageEncoder,
    base_spec: str,
    preprocess: Any = None,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write `encoder.model`'s weights and how to rebuild it; `preprocess` when it differs from the base's."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    # Cloned and contiguous: safetensors refuses shared or strided (channels_last) storage.
    state = {name: t.detach().cpu().clone().contiguous() for name, t in encoder.model.state_dict().items()}
    tmp = path / f"{WEIGHTS_FILE}.{os.getpid()}.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, path / WEIGHTS_FILE)
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": BACKBONE_KIND,
        "modality": Modality.IMAGE.value,
        "base_spec": base_spec,
        "weights": WEIGHTS_FILE,
        "weights_digest": weights_digest(state),
        "dim": encoder.dim,
        "preprocess": preprocess_override(preprocess) if preprocess is not None else None,
        "training": jsonable(dict(training or {})),
    }
    # The JSON last: a folder with vitrina_ckpt.json is complete.
    tmp_meta = path / f"{CKPT_FILE}.{os.getpid()}.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=2))
    os.replace(tmp_meta, path / CKPT_FILE)
    return path


def read_checkpoint_meta(path: str | Path) -> dict:
    meta_path = Path(path) / CKPT_FILE
    if not meta_path.exists():
        raise EncoderSpecError(f"ckpt:{path}", f"{meta_path} is missing: not a vitrina checkpoint folder")
    return json.loads(meta_path.read_text())


def load_backbone_encoder(path: str | Path, spec: str | None = None, device: str | None = None) -> TorchImageEncoder:
    """The fine-tuned image encoder saved at `path` (a folder with kind "backbone")."""
    path = Path(path)
    spec = spec or f"ckpt:{path}"
    meta = read_checkpoint_meta(path)
    if meta.get("kind") != BACKBONE_KIND:
        raise EncoderSpecError(spec, f"checkpoint kind is {meta.get('kind')!r}, expected {BACKBONE_KIND!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise EncoderSpecError(spec, f"format_version {meta.get('format_version')!r} is not supported (expected {FORMAT_VERSION})")
    # Imported here: the factory will dispatch ckpt: specs to this module, and a
    # module-level import would make the two import each other.
    from vitrina.training.encoders.factory import create_encoder

    encoder = create_encoder(meta["base_spec"], modality=Modality.IMAGE, device=device)
    if not isinstance(encoder, TorchImageEncoder):
        raise EncoderSpecError(spec, f"base {meta['base_spec']!r} is not a PyTorch image encoder")
    state = load_file(str(path / meta["weights"]))
    if weights_digest(state) != meta["weights_digest"]:
        raise EncoderSpecError(spec, f"{meta['weights']} does not match weights_digest: the file was changed or truncated")
    try:
        encoder.model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise EncoderSpecError(spec, f"weights do not fit base {meta['base_spec']!r}: {exc}") from exc
    encoder.model.eval()
    preprocessing = encoder.preprocessing()
    if meta.get("preprocess"):
        preprocess = build_preprocess(meta["preprocess"])
        # Both slots: TorchImageEncoder keeps the preprocessor and a picklable alias of it.
        encoder._preprocessor = preprocess
        encoder.preprocess = preprocess
        preprocessing.update(preprocess.config())
    encoder.spec = spec
    encoder._set_identity(meta["weights_digest"], {**preprocessing, "fine_tuned_from": meta["base_spec"]})
    return encoder
