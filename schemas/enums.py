"""Enumerations that appear in files and on the wire."""
from enum import Enum


class Modality(str, Enum):
    IMAGE = "image"
    TEXT = "text"


class Metric(str, Enum):
    # Vectors are L2-normalised, so inner product is cosine similarity.
    COSINE = "cosine"


# What runs an encoder's forward pass (training/encoders/onnx_runtime.py): recorded in a
# manifest's build options and named by the server's settings.
ENCODER_RUNTIMES = ("torch", "onnx", "onnx-int8")
