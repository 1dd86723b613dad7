"""Encoders: spec string -> object turning images or texts into L2-normalised float32 vectors."""
from vitrina.training.encoders.base import Encoder, ImageEncoder, TextEncoder, l2_normalise
from vitrina.training.encoders.builtin import BUILTIN_ENCODERS
from vitrina.training.encoders.errors import EncoderSpecError
from vitrina.training.encoders.factory import create_encoder

__all__ = [
    "BUILTIN_ENCODERS",
    "Encoder",
    "EncoderSpecError",
    "ImageEncoder",
    "TextEncoder",
    "create_encoder",
    "l2_normalise",
]
