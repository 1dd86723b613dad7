"""An image encoder's network seen as stem -> blocks -> pool, so a prefix can be frozen and cached.

"Freeze 80%" means: the stem and the first round(0.8 x blocks) blocks keep
their pretrained weights and run in eval mode (batch-norm statistics and
dropout frozen too). Their output is then a pure function of the input
pixels, so it is computed once per sample and cached (the frozen-prefix
cache), and each epoch only runs the trainable suffix.

The staged modules are the encoder's own modules (shared, not copied):
training them trains the encoder, whose `.model.state_dict()` is what the
backbone checkpoint saves. `StagedBackbone(pixels)` equals the encoder's
`_embed_pixels` (before L2 normalisation); the tests check it.
"""
from __future__ import annotations

import torch
from torch import nn

from vitrina.training.encoders.base import ImageEncoder
from vitrina.training.encoders.efficientnet import EfficientNetLite0Encoder
from vitrina.training.encoders.hf_vision import HfClsImageEncoder


class UnsupportedBackboneError(ValueError):
    """An encoder whose network cannot be split into stem / blocks / pool."""

    def __init__(self, spec: str, problem: str):
        self.spec = spec
        super().__init__(f"encoder {spec!r}: {problem}")


class StagedBackbone(nn.Module):
    def __init__(self, stem: nn.Module, blocks: list[nn.Module], pool: nn.Module, dim: int):
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.pool = pool
        self.dim = dim

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def frozen_blocks(self, freeze_percent: float) -> int:
        """Blocks frozen for a percentage (0..100), rounded to the nearest block."""
        if not 0 <= freeze_percent <= 100:
            raise ValueError(f"freeze_percent must be in [0, 100], got {freeze_percent}")
        return int(round(freeze_percent / 100 * self.num_blocks))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.suffix(self.prefix(pixels, 0), 0)

    def prefix(self, pixels: torch.Tensor, n_frozen: int) -> torch.Tensor:
        """Output of the frozen part (stem + n_frozen blocks); the pixels themselves when nothing is frozen."""
        if n_frozen == 0:
            return pixels
        x = self.stem(pixels)
        for block in self.blocks[:n_frozen]:
            x = block(x)
        return x

    def suffix(self, x: torch.Tensor, n_frozen: int) -> torch.Tensor:
        """Pooled features [n, dim] from the frozen part's output."""
        if n_frozen == 0:
            x = self.stem(x)
        for block in self.blocks[n_frozen:]:
            x = block(x)
        return self.pool(x)

    def frozen_modules(self, n_frozen: int) -> list[nn.Module]:
        return [self.stem, *self.blocks[:n_frozen]] if n_frozen else []

    def trainable_modules(self, n_frozen: int) -> list[nn.Module]:
        return ([] if n_frozen else [self.stem]) + [*self.blocks[n_frozen:], self.pool]

    def set_frozen(self, n_frozen: int) -> None:
        """requires_grad off and eval mode for the frozen part, on for the rest."""
        if not 0 <= n_frozen <= self.num_blocks:
            raise ValueError(f"n_frozen must be in [0, {self.num_blocks}], got {n_frozen}")
        for module in self.frozen_modules(n_frozen):
            module.eval()
            module.requires_grad_(False)
        for module in self.trainable_modules(n_frozen):
            module.requires_grad_(True)

    def train_suffix(self, mode: bool, n_frozen: int) -> None:
        # nn.Module.train() would flip the frozen prefix back to training-mode batch norm.
        for module in self.trainable_modules(n_frozen):
            module.train(mode)


# --- EfficientNet-Lite0 (efficientnet_lite_pytorch) -------------------------------------------


class _EfficientNetStem(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.conv, self.bn, self.act = model._conv_stem, model._bn0, model._swish

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # channels_last as in the encoder: same kernels, so the same numbers.
        return self.act(self.bn(self.conv(pixels.contiguous(memory_format=torch.channels_last))))


class _EfficientNetBlock(nn.Module):
    """MBConv block with its depth-scaled drop-connect rate, as `extract_features` applies it."""

    def __init__(self, block: nn.Module, drop_connect_rate: float):
        super().__init__()
        self.block = block
        self.drop_connect_rate = drop_connect_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x.contiguous(memory_format=torch.channels_last), drop_connect_rate=self.drop_connect_rate)


class _EfficientNetPool(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.conv, self.bn, self.act = model._conv_head, model._bn1, model._swish

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x.contiguous(memory_format=torch.channels_last)))).mean(dim=(2, 3))


def _stage_efficientnet(model: nn.Module, dim: int) -> StagedBackbone:
    rate = model._global_params.drop_connect_rate or 0.0
    n = len(model._blocks)
    blocks = [_EfficientNetBlock(block, rate * i / n) for i, block in enumerate(model._blocks)]
    return StagedBackbone(_EfficientNetStem(model), blocks, _EfficientNetPool(model), dim)


# --- transformers ViT / DeiT / DINOv2 (CLS pooling) --------------------------------------------


class _HfEmbeddings(nn.Module):
    def __init__(self, embeddings: nn.Module):
        super().__init__()
        self.embeddings = embeddings

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.embeddings(pixels)


class _HfLayer(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.layer(hidden, None)
        # transformers 4 layers return a tuple, 5 a tensor.
        return out[0] if isinstance(out, tuple) else out


class _HfClsPool(nn.Module):
    def __init__(self, layernorm: nn.Module):
        super().__init__()
        self.layernorm = layernorm

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.layernorm(hidden)[:, 0]


def _hf_layers(model: nn.Module) -> nn.ModuleList | None:
    # ViT keeps its layers at model.layers (transformers 5), DINOv2 at model.encoder.layer.
    for path in ("layers", "encoder.layer", "encoder.layers"):
        node = model
        for part in path.split("."):
            node = getattr(node, part, None)
        if isinstance(node, nn.ModuleList):
            return node
    return None


def _stage_hf(spec: str, model: nn.Module, dim: int) -> StagedBackbone:
    layers = _hf_layers(model)
    if layers is None or not hasattr(model, "embeddings") or not hasattr(model, "layernorm"):
        raise UnsupportedBackboneError(spec, f"{type(model).__name__} has no embeddings / layers / layernorm to stage")
    return StagedBackbone(_HfEmbeddings(model.embeddings), [_HfLayer(l) for l in layers], _HfClsPool(model.layernorm), dim)


def stage_encoder(encoder: ImageEncoder) -> StagedBackbone:
    """The encoder's network as a StagedBackbone sharing its modules."""
    # Exact types: a subclass (a CLIP tower) may pool differently.
    if type(encoder) is EfficientNetLite0Encoder:
        return _stage_efficientnet(encoder.model, encoder.dim)
    if type(encoder) is HfClsImageEncoder:
        return _stage_hf(encoder.spec, encoder.model, encoder.dim)
    raise UnsupportedBackboneError(
        encoder.spec, f"{type(encoder).__name__} cannot be fine-tuned; supported: builtin:efficientnet-lite0, hf: ViT / DeiT / DINOv2"
    )
