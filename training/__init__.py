"""Encoders, image decoding and (later) fine-tuning."""
from vitrina.training.encoders import create_encoder

__all__ = ["create_encoder"]
