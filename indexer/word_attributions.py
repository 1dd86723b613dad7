"""attributions/text.parquet: every item's word attributions, precomputed for the map's hover.

For each space whose items are texts, each item's text is explained against its own empty
baseline (training/explain/text_words.py, target None): which words carry the item's vector.
One row per (space, item); the words keep their character offsets so a client can highlight
them in the text it already has.

A re-index reuses the rows of the parent version whose item text, encoder fingerprint, steps
and reduction are unchanged, so only new and edited items cost gradient work.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa
import numpy as np
from tqdm.auto import tqdm

from vitrina.schemas.bundle_files import TEXT_ATTRIBUTIONS_SCHEMA, read_checked, write_checked

log = logging.getLogger("vitrina.indexer")

# Steps the build uses by default: the hover needs the ranking of a few words, and 20 steps
# kept |delta| under 0.007 on 32 openclipart texts with MiniLM while costing 2.5x less than 50.
DEFAULT_STEPS = 20
REDUCTION = "sum"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _row(space: str, item_id: str, text: str, fingerprint: str, result: Any) -> dict[str, Any]:
    return {
        "space": space, "id": item_id, "text_sha256": text_sha256(text), "fingerprint": fingerprint,
        "words": [w.to_dict() for w in result.words], "score": result.score, "baseline_score": result.baseline_score,
        "delta": result.delta, "n_steps": result.n_steps, "reduction": result.reduction,
    }


def spread(ids: Sequence[str], limit: int | None) -> list[str]:
    """At most `limit` of `ids`, evenly spaced in their order (all when limit is None)."""
    ids = list(ids)
    if limit is None or limit >= len(ids):
        return ids
    if limit <= 0:
        return []
    return [ids[i] for i in np.linspace(0, len(ids) - 1, limit).round().astype(int)]


def attribute_space(
    space: str,
    ids: Sequence[str],
    texts: Sequence[str],
    encoder: Any,
    steps: int = DEFAULT_STEPS,
    previous: Mapping[tuple[str, str], dict[str, Any]] | None = None,
    progress: bool = True,
    batch_size: int = 16,
    explain: Callable[..., list[Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows for every (id, text) of one space, reusing `previous` rows that still apply.

    Returns the rows and counts {"computed", "reused"}.
    """
    if explain is None:
        from vitrina.training.explain.text_words import explain_texts as explain
    rows: list[dict[str, Any] | None] = [None] * len(ids)
    todo = []
    for i, (item_id, text) in enumerate(zip(ids, texts)):
        old = (previous or {}).get((space, item_id))
        if (old is not None and old["text_sha256"] == text_sha256(text) and old["fingerprint"] == encoder.fingerprint
                and old["n_steps"] == steps and old["reduction"] == REDUCTION):
            rows[i] = old
        else:
            todo.append(i)
    with tqdm(total=len(todo), desc=f"attributions {space}", unit="item", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            results = explain(encoder, [texts[i] for i in batch], None, n_steps=steps, reduction=REDUCTION,
                              batch_size=batch_size)
            for i, result in zip(batch, results):
                rows[i] = _row(space, ids[i], texts[i], encoder.fingerprint, result)
            bar.update(len(batch))
    return rows, {"computed": len(todo), "reused": len(ids) - len(todo)}  # type: ignore[return-value]


def write_text_attributions(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    table = pa.Table.from_pylist(list(rows), schema=TEXT_ATTRIBUTIONS_SCHEMA)
    write_checked(table, TEXT_ATTRIBUTIONS_SCHEMA, path)


def read_text_attributions(path: str | Path) -> dict[tuple[str, str], dict[str, Any]]:
    """{(space, id): row} of an attributions/text.parquet; {} when the version has none."""
    path = Path(path)
    if not path.is_file():
        return {}
    table = read_checked(path, TEXT_ATTRIBUTIONS_SCHEMA)
    return {(row["space"], row["id"]): row for row in table.to_pylist()}


def completeness_error(rows: Sequence[Mapping[str, Any]]) -> float:
    """Largest |sum of word scores - (score - baseline_score)| over the rows (for the build report)."""
    if not rows:
        return 0.0
    return float(max(abs(sum(w["score"] for w in r["words"]) - (r["score"] - r["baseline_score"])) for r in rows))


__all__ = [
    "DEFAULT_STEPS", "TEXT_ATTRIBUTIONS_SCHEMA", "attribute_space", "completeness_error", "read_text_attributions",
    "spread", "text_sha256", "write_text_attributions",
]
