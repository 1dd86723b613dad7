"""Loading `hf:` models, tokenizers and image processors, offline-friendly.

Every loader turns "not found" and "not loadable" into EncoderSpecError
naming the spec, because the usual cause here is a hub name with no hub
reachable, and the raw transformers traceback does not say that.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import transformers

from vitrina.training.encoders.errors import EncoderSpecError
from vitrina.training.encoders.fingerprint import weights_digest

_TRANSFORMERS_MAJOR = int(transformers.__version__.split(".", 1)[0])


def _source_kwargs(source: str) -> dict[str, Any]:
    # A local directory never needs the hub; saying so skips network lookups
    # even when HF_HUB_OFFLINE is not set.
    return {"local_files_only": True} if Path(source).is_dir() else {}


def _not_loadable(spec: str, what: str, exc: Exception) -> EncoderSpecError:
    hint = ""
    if os.environ.get("HF_HUB_OFFLINE") == "1" and not Path(spec.split(":", 1)[-1]).exists():
        hint = " (HF_HUB_OFFLINE=1: only local directories and models already in the HF cache work)"
    return EncoderSpecError(spec, f"cannot load its {what}: {exc}{hint}")


def load_config(spec: str, source: str) -> transformers.PretrainedConfig:
    try:
        return transformers.AutoConfig.from_pretrained(source, **_source_kwargs(source))
    except (OSError, ValueError, KeyError) as exc:
        raise _not_loadable(spec, "config", exc) from exc


def load_model(spec: str, source: str) -> tuple[torch.nn.Module, str]:
    """The model in eval mode on CPU, float32, and the digest of its weights.

    float32 regardless of the checkpoint's dtype: vectors must not depend on
    how a checkpoint happened to be saved, and CPU half precision is slow.
    """
    dtype_kwarg = "dtype" if _TRANSFORMERS_MAJOR >= 5 else "torch_dtype"
    try:
        model, loading = transformers.AutoModel.from_pretrained(
            source, output_loading_info=True, **{dtype_kwarg: torch.float32}, **_source_kwargs(source)
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise _not_loadable(spec, "weights", exc) from exc
    missing = set(loading.get("missing_keys", ()))
    _refuse_random_weights(spec, missing)
    model.eval()
    # Randomly initialised (unused) weights would make the fingerprint differ per load.
    loaded = {name: t for name, t in model.state_dict().items() if name not in missing}
    return model, weights_digest(loaded)


def _refuse_random_weights(spec: str, missing_keys) -> None:
    # Weights absent from the checkpoint are randomly initialised on every
    # load, which would make both the vectors and the fingerprint differ from
    # run to run. Only the classification pooler may be missing: no encoder
    # here reads its output.
    used = sorted(k for k in missing_keys if "pooler" not in k)
    if used:
        shown = ", ".join(used[:5]) + (" ..." if len(used) > 5 else "")
        raise EncoderSpecError(spec, f"checkpoint lacks {len(used)} weights the model uses ({shown})")


def load_tokenizer(spec: str, source: str):
    try:
        return transformers.AutoTokenizer.from_pretrained(source, **_source_kwargs(source))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _not_loadable(spec, "tokenizer", exc) from exc


def load_image_processor(spec: str, source: str):
    # The PIL backend always: the torchvision one resizes slightly differently
    # and would silently change vectors depending on what is installed.
    backend = {"backend": "pil"} if _TRANSFORMERS_MAJOR >= 5 else {"use_fast": False}
    try:
        return transformers.AutoImageProcessor.from_pretrained(source, **backend, **_source_kwargs(source))
    except (OSError, ValueError, KeyError) as exc:
        raise _not_loadable(spec, "image processor", exc) from exc
