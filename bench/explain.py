"""Explanation latency on a real bundle: word attributions and image heatmaps, cold and cached.

    python bench/explain.py --bundles bundles --collection openclipart --pairs 8

Through the service layer the API uses (SearchService.explain), on the demo's encoders
(MiniLM-L6 text, EfficientNet-Lite0 images, the trained joint space). For `--pairs` items
spread over the collection it takes each item's first hit and explains:
- text pair: the two items' texts in the `text` space (words, both directions; --text-steps
  auto: as few steps as keep the completeness delta under 1% of the change, the API's default);
- image heatmap: the hit's image against the item's in the `image` space (IG at the API's
  default steps unless --image-steps);
- query words + heatmap: a text query and its first hit in the `joint` space;
first cold (computed), then the same request again (cached). Prints p50/p95 per row as a
markdown table, and checks every answer is complete (|sum of words - change| <= |delta| + 1e-3).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _stats import percentile

QUERIES = ["red car", "cat", "christmas tree", "musical instrument", "coffee cup", "bicycle", "smiling sun", "fish"]


def _requests(service, bundle, items: list[str], args: argparse.Namespace) -> dict[str, list]:
    """Explanation requests per kind: each item with its nearest text and image neighbour, and joint queries."""
    from vitrina.search_api.explain_models import ExplainRequest

    requests: dict[str, list[ExplainRequest]] = {"text pair (words, both texts)": [], "image heatmap (IG)": [],
                                                  "joint query (words + heatmap)": []}
    for item in items:
        if item in bundle.spaces["text"].row_of:
            hit = service.neighbours(item, space="text", k=1).hits[0].id
            requests["text pair (words, both texts)"].append(ExplainRequest(
                space="text", item=item, target=hit, kinds=["words"], steps=args.text_steps))
        if "image" in bundle.spaces:
            hit = service.neighbours(item, space="image", k=1).hits[0].id
            requests["image heatmap (IG)"].append(ExplainRequest(
                space="image", item=item, target=hit, kinds=["heatmap"], steps=args.image_steps))
    if "joint" in bundle.spaces:
        for query in QUERIES[: args.pairs]:
            hit = service.search_text(query, space="joint", k=1).hits[0].id
            requests["joint query (words + heatmap)"].append(ExplainRequest(
                space="joint", query=query, target=hit, kinds=["words", "heatmap"], steps=args.image_steps))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=Path, default=Path("bundles"))
    parser.add_argument("--collection", default="openclipart")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--text-steps", type=lambda v: None if v == "auto" else int(v), default=None,
                        help="Integrated Gradients steps of text pairs, or auto (default)")
    parser.add_argument("--image-steps", type=int, default=None,
                        help="Integrated Gradients steps of heatmaps (default: the API's, HEATMAP_STEPS)")
    args = parser.parse_args()

    import torch

    from vitrina.indexer.bundle.reader import Bundle
    from vitrina.search_api import BundleHolder, SearchService, Settings
    from vitrina.search_api.explanations import HEATMAP_STEPS

    holder = BundleHolder()
    holder.swap(Bundle.open(args.bundles, args.collection))
    service = SearchService(holder, Settings(explain_timeout_s=600))
    bundle = holder.get()
    item_ids = bundle.spaces["image" if "image" in bundle.spaces else "text"].ids
    step = max(1, len(item_ids) // args.pairs)
    items = [item_ids[i * step] for i in range(args.pairs)]

    requests = _requests(service, bundle, items, args)

    # One warm-up, so model copies and first-call costs are not in the first timing.
    warm_up = next(batch[0] for batch in requests.values() if batch)
    service.explain(warm_up.model_copy(update={"steps": 2, "target": warm_up.item}))
    worst = 0.0
    print(f"torch threads: {torch.get_num_threads()}; pairs: {args.pairs}; text steps {args.text_steps or 'auto'}, "
          f"image steps {args.image_steps or HEATMAP_STEPS}\n")
    print("| explanation | n | cold p50 s | cold p95 s | cached p50 ms | cached p95 ms | word steps used |")
    print("|---|---|---|---|---|---|---|")
    for name, batch in requests.items():
        if not batch:
            continue
        cold, warm, steps_used = [], [], []
        for request in batch:
            t0 = time.perf_counter()
            view = service.explain(request)
            cold.append(time.perf_counter() - t0)
            for words in view.words:
                steps_used.append(words.n_steps)
                change = words.score - words.baseline_score
                worst = max(worst, abs(sum(w.score for w in words.words) - change) - abs(words.delta))
            t0 = time.perf_counter()
            assert service.explain(request).cached
            warm.append((time.perf_counter() - t0) * 1000)
        print(f"| {name} | {len(batch)} | {statistics.median(cold):.2f} | {percentile(cold, 0.95):.2f} | "
              f"{statistics.median(warm):.2f} | {percentile(warm, 0.95):.2f} | "
              f"{'/'.join(str(n) for n in sorted(set(steps_used))) or '-'} |")
    print(f"\nlargest completeness excess over |delta|: {worst:.2e}")


if __name__ == "__main__":
    main()
