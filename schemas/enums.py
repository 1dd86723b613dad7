"""Enumerations that appear in files and on the wire."""
from enum import Enum


class Modality(str, Enum):
    IMAGE = "image"
    TEXT = "text"


class Metric(str, Enum):
    # Vectors are L2-normalised, so inner product is cosine similarity.
    COSINE = "cosine"
