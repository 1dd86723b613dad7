"""`hf:` image encoders with a CLS token (ViT, DeiT, DINOv2): the final CLS state.

The CLS row of `last_hidden_state` is used rather than `pooler_output`:
for DINOv2 the two are identical (its pooler is the layer-normed CLS), and
ViT's pooler is a dense+tanh head that many checkpoints (DINO, MAE) ship
untrained or not at all.
"""
from __future__ import annotations

import numpy as np
import torch

from vitrina.training.encoders.hf_loading import load_image_processor, load_model
from vitrina.training.encoders.torch_base import DEFAULT_IMAGE_BATCH_SIZE, TorchImageEncoder

CLS_IMAGE_MODEL_TYPES = ("vit", "deit", "dinov2", "dinov2_with_registers")


class HfImagePreprocessor:
    """The model's own image processor applied to one image; picklable for worker processes."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, image) -> np.ndarray:
        pixels = self.processor(images=image, return_tensors="np")["pixel_values"]
        return np.asarray(pixels[0], dtype=np.float32)

    def config(self) -> dict:
        return self.processor.to_dict()


class HfClsImageEncoder(TorchImageEncoder):
    def __init__(self, spec: str, source: str, device: str | None = None, batch_size: int = DEFAULT_IMAGE_BATCH_SIZE):
        model, weights = load_model(spec, source)
        preprocessor = HfImagePreprocessor(load_image_processor(spec, source))
        super().__init__(spec, self._output_dim(model), model, preprocessor, device, batch_size)
        self._set_identity(weights, {"image_processor": preprocessor.config(), **self._identity()})

    # Overridden by towers of multi-modal models (CLIP), which share the loading above.
    def _output_dim(self, model) -> int:
        return model.config.hidden_size

    def _identity(self) -> dict:
        return {"pooling": "cls"}

    def _embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixels).last_hidden_state[:, 0]
