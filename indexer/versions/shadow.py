"""The numbers of a shadow check: one space of a candidate version against the same space of CURRENT.

- overlap@10: for sampled items present in both versions, the share of an item's 10 nearest
  neighbours (itself left out) that both versions return, each searched through its own index
  as the server would; for spaces with a text encoder also for the items' titles as text
  queries. It measures how much users would see change, whatever the cause.
- recall@10: the candidate's FAISS index against exact search over its own vectors on the
  same queries. It measures only what the index loses, independent of any data change, so a
  bad index (too coarse PQ, too small nprobe) shows even when the catalogue did not change.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vitrina.indexer.bundle.reader import Space
from vitrina.indexer.index.exact import exact_search
from vitrina.schemas import Modality

K = 10
TEXT_BATCH = 32
# Scores equal to the exact k-th best within this count as found (float32 rounding).
TIE_TOLERANCE = 1e-5


def sample_ids(ids: Sequence[str], size: int, seed: int) -> list[str]:
    """A seeded sample of `size` ids, in their stored order (all of them when there are fewer)."""
    if len(ids) <= size:
        return list(ids)
    rows = np.sort(np.random.default_rng(seed).choice(len(ids), size, replace=False))
    return [ids[r] for r in rows]


def top_ids(space: Space, queries: np.ndarray, own_rows: np.ndarray | None = None, k: int = K) -> list[list[str]]:
    """Each query's k nearest item ids through the space's index; `own_rows` are left out."""
    extra = 0 if own_rows is None else 1
    _, rows = space.index.search(queries, min(k + extra, space.index.ntotal))
    out = []
    for i, found in enumerate(rows):
        skip = -1 if own_rows is None else own_rows[i]
        out.append([space.ids[r] for r in found if r >= 0 and r != skip][:k])
    return out


def mean_overlap(a: list[list[str]], b: list[list[str]]) -> float | None:
    """Mean share of ids two result lists have in common (None when there is nothing to compare)."""
    shares = [len(set(x) & set(y)) / max(len(x), len(y)) for x, y in zip(a, b) if x or y]
    return float(np.mean(shares)) if shares else None


def recall_vs_exact(space: Space, queries: np.ndarray, k: int = K) -> float | None:
    """Recall@k of the space's index against exact search over its vectors.

    A result counts as found when its true score reaches the exact k-th best score: with
    duplicate vectors (the same picture twice) exact search breaks ties by row, and an index
    returning the other twin has lost nothing."""
    if len(queries) == 0:
        return None
    k = min(k, space.index.ntotal)
    _, approx = space.index.search(queries, k)
    exact_scores, _ = exact_search(space.vectors, queries, k)
    true = np.einsum("qd,qkd->qk", queries, space.vectors[np.maximum(approx, 0)])
    found = (approx >= 0) & (true >= exact_scores[:, -1:] - TIE_TOLERANCE)
    return float(found.sum(axis=1).mean() / k)


def encode_texts(space: Space, texts: list[str]) -> np.ndarray:
    encoder = space.encoder(Modality.TEXT)
    parts = [encoder.encode(texts[i:i + TEXT_BATCH]) for i in range(0, len(texts), TEXT_BATCH)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, space.manifest.dim), np.float32)


def compare_space(new: Space, old: Space | None, sample: list[str], titles: dict[str, str]) -> dict[str, Any]:
    """The shadow numbers of one space; `sample` are ids of `new`, `titles` their titles."""
    own = np.array([new.row_of[i] for i in sample], dtype=np.int64)
    item_queries = new.vectors[own]
    texts = [titles[i] for i in sample if titles.get(i, "").strip()]
    text_queries = encode_texts(new, texts) if texts and Modality.TEXT in new.query_modalities else None
    out: dict[str, Any] = {
        "rows": len(new.ids), "rows_current": len(old.ids) if old else None, "index": new.manifest.index.factory,
        "item_queries": 0, "overlap@10": None, "text_queries": 0, "text_overlap@10": None,
    }
    queries = item_queries if text_queries is None else np.concatenate([item_queries, text_queries])
    out["recall@10"] = recall_vs_exact(new, queries)
    out["recall_queries"] = len(queries)
    if old is None:
        return out
    shared = [r for r, i in enumerate(sample) if i in old.row_of]
    if shared:
        old_rows = np.array([old.row_of[sample[r]] for r in shared], dtype=np.int64)
        out["item_queries"] = len(shared)
        out["overlap@10"] = mean_overlap(top_ids(new, item_queries[shared], own[shared]),
                                         top_ids(old, old.vectors[old_rows], old_rows))
    if text_queries is not None and Modality.TEXT in old.query_modalities:
        # Each version encodes the queries with its own text encoder, as it would when serving.
        try:
            old_queries = encode_texts(old, texts)
        except (OSError, RuntimeError, ValueError) as exc:  # CURRENT's weights are gone or changed since
            out["text_skipped"] = str(exc)
        else:
            out["text_queries"] = len(texts)
            out["text_overlap@10"] = mean_overlap(top_ids(new, text_queries), top_ids(old, old_queries))
    return out


def eval_diff(new: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, dict[str, dict[str, float]]]:
    """Per space, {metric: {old, new, delta}} for the numeric metrics both eval reports hold."""
    if not new or not old:
        return {}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, space in new.get("spaces", {}).items():
        before = old.get("spaces", {}).get(name, {}).get("metrics", {})
        rows = {}
        for metric, value in space.get("metrics", {}).items():
            was = before.get(metric)
            if _number(value) and _number(was):
                rows[metric] = {"old": was, "new": value, "delta": value - was}
        if rows:
            out[name] = rows
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
