"""Tiny, randomly initialised transformers checkpoints for fast encoder tests.

Each builder writes a complete `hf:`-loadable directory (config, weights,
tokenizer or image processor) built from code, so no model hub is needed.
Weights use a large init range so that different inputs give clearly
different outputs even with two layers.
"""
from __future__ import annotations

from pathlib import Path

import torch
import transformers

IMAGE_SIZE = 32
_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, initializer_range=0.2)
_WORDS = "a an the of photo picture cat kitten dog stock market report red blue green house tree car".split()


def _bert_vocab() -> dict[str, int]:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS]
    return {token: i for i, token in enumerate(tokens)}


def _clip_vocab() -> dict[str, int]:
    # Byte-level BPE without merges: every word is spelled letter by letter,
    # the last letter carrying the end-of-word marker.
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    for letter in "abcdefghijklmnopqrstuvwxyz":
        tokens += [letter, letter + "</w>"]
    return {token: i for i, token in enumerate(tokens)}


def save_tiny_vit(path: Path) -> Path:
    torch.manual_seed(0)
    config = transformers.ViTConfig(**_TINY, intermediate_size=37, image_size=IMAGE_SIZE, patch_size=8)
    transformers.ViTModel(config).save_pretrained(path)
    transformers.ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(path)
    return path


def save_tiny_dinov2(path: Path) -> Path:
    torch.manual_seed(0)
    config = transformers.Dinov2Config(**_TINY, mlp_ratio=2, image_size=IMAGE_SIZE, patch_size=8)
    transformers.Dinov2Model(config).save_pretrained(path)
    transformers.BitImageProcessor(
        size={"shortest_edge": IMAGE_SIZE + 8}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    ).save_pretrained(path)
    return path


def save_tiny_bert(path: Path) -> Path:
    torch.manual_seed(0)
    vocab = _bert_vocab()
    config = transformers.BertConfig(**_TINY, intermediate_size=37, vocab_size=len(vocab), max_position_embeddings=64)
    transformers.BertModel(config).save_pretrained(path)
    transformers.BertTokenizer(vocab=vocab).save_pretrained(path)
    return path


def save_tiny_clip(path: Path) -> Path:
    torch.manual_seed(0)
    vocab = _clip_vocab()
    text = dict(**_TINY, intermediate_size=37, vocab_size=len(vocab), max_position_embeddings=32,
                bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(**_TINY, intermediate_size=37, image_size=IMAGE_SIZE, patch_size=8)
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    transformers.CLIPModel(config).save_pretrained(path)
    transformers.CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(path)
    transformers.CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    ).save_pretrained(path)
    return path
