"""Word attributions per second, and how well each cheap method ranks words, on real texts.

    python bench/attributions.py --texts 64

Explains a deterministic spread of openclipart texts with the offline MiniLM-L6 against each
text's own baseline (what a build precomputes for the map's hover) by each method, in one run:
- items/s, batched as the build batches them (16 texts per call);
- agreement with 50-step Integrated Gradients, the reference: the median Spearman correlation of
  word scores per text, and how often IG's most salient word is among the method's three most
  salient;
- the largest completeness delta;
- the achieved GFLOP/s, estimated from the model's weight count and the texts' tokens, beside the
  GFLOP/s this machine reaches on a plain 2048 x 2048 float32 matrix product.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _machine import machine
from scipy.stats import spearmanr

from vitrina.indexer.catalogue import collect, open_catalogue
from vitrina.indexer.embed import encoded_text
from vitrina.training.encoders import create_encoder
from vitrina.training.explain.text_parts import text_parts
from vitrina.training.explain.text_words import explain_texts

METHODS = [("gradient_x_input", 1), ("integrated_gradients", 2), ("integrated_gradients", 4),
           ("integrated_gradients", 20)]


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    a = torch.randn(size, size)
    a @ a
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return repeats * 2 * size**3 / (time.perf_counter() - start) / 1e9


def _agreement(reference, results) -> tuple[float, float]:
    correlations, hits = [], []
    for ref, got in zip(reference, results):
        ref_scores, got_scores = [w.score for w in ref.words], [w.score for w in got.words]
        if len(ref_scores) > 2:
            correlations.append(spearmanr(ref_scores, got_scores).statistic)
        top = min(ref.words, key=lambda w: w.score).word
        hits.append(top in [w.word for w in sorted(got.words, key=lambda w: w.score)[:3]])
    return float(np.nanmedian(correlations)), float(np.mean(hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--root", default="/usr/share/openclipart")
    args = parser.parse_args()

    items = collect(open_catalogue(f"openclipart:{args.root}"), limit=args.texts * 10)
    texts = [t for t in (encoded_text(it) for it in items[::10]) if t][: args.texts]
    encoder = create_encoder("builtin:minilm-l6", device="cpu")
    parts = text_parts(encoder)
    tokens = sum(len(ids) for ids in parts.tokenizer(texts, truncation=True, max_length=parts.max_length)["input_ids"])
    # Matrix weights outside the embedding tables: 2 FLOPs each per token and forward pass; the
    # backward pass to the inputs (weights frozen) costs about as much again.
    weights = sum(p.numel() for name, p in encoder.model.named_parameters() if p.dim() == 2 and "embeddings" not in name)
    peak = matmul_gflops()
    print(f"{machine()}; torch threads {torch.get_num_threads()}; {len(texts)} texts, median "
          f"{np.median([len(t.split()) for t in texts]):.0f} words, {tokens} tokens; matmul {peak:.0f} GFLOP/s\n")
    reference = explain_texts(encoder, texts, None, n_steps=50, batch_size=16)
    print("| method | steps | items/s | Spearman vs IG-50 (median) | IG-50's top word in top 3 | max abs delta | "
          "est. GFLOP/s | of matmul |")
    print("|---|---|---|---|---|---|---|---|")
    for method, steps in METHODS:
        explain_texts(encoder, texts[:4], None, method=method, n_steps=steps)
        start = time.perf_counter()
        results = explain_texts(encoder, texts, None, method=method, n_steps=steps, batch_size=16)
        seconds = time.perf_counter() - start
        rho, top = _agreement(reference, results)
        # Two no-grad forwards (text, baseline) and `steps` forward+backward passes.
        gflops = 2 * weights * tokens * (2 + 2 * steps) / seconds / 1e9
        print(f"| {method} | {steps} | {len(texts) / seconds:.1f} | {rho:.3f} | {top:.0%} | "
              f"{max(abs(r.delta) for r in results):.3f} | {gflops:.0f} | {gflops / peak:.0%} |")


if __name__ == "__main__":
    main()
