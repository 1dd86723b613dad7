"""Errors raised while turning a spec string into an encoder."""
from __future__ import annotations


class EncoderSpecError(ValueError):
    """A spec string that names no usable encoder, or one of the wrong modality."""

    def __init__(self, spec: str, problem: str):
        self.spec = spec
        self.problem = problem
        super().__init__(f"encoder spec {spec!r}: {problem}")
