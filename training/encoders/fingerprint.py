"""Fingerprints: a short hash that changes whenever weights or preprocessing do.

The bundle reader compares the fingerprint recorded at index time with the
one of the encoder it loads for queries, so it must be stable across loads
and processes (no ids, no timestamps, no file paths) and sensitive to every
weight bit.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import torch

FINGERPRINT_HEX_CHARS = 20
# Bumped when the hashing scheme itself changes, so old and new never collide.
_SCHEME = b"vitrina-encoder-fingerprint-v1"


def weights_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and raw bytes, in sorted key order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        # Viewing as bytes works for every dtype, bfloat16 included, which numpy lacks.
        raw = tensor.cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
        digest.update(memoryview(raw))
    return digest.hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_fingerprint(encoder_kind: str, weights: str, preprocessing: Mapping[str, Any]) -> str:
    """Combine the encoder class, the weights digest and the preprocessing config."""
    digest = hashlib.sha256(_SCHEME)
    digest.update(encoder_kind.encode() + b"\n")
    digest.update(weights.encode() + b"\n")
    digest.update(canonical_json(preprocessing).encode())
    return digest.hexdigest()[:FINGERPRINT_HEX_CHARS]


def canonical_json(value: Any) -> str:
    # default=str keeps odd config values (enums, paths) hashable instead of crashing.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def jsonable(value: Any) -> Any:
    """A plain-JSON copy of `value`, as it will be written into the manifest."""
    return json.loads(canonical_json(value))
