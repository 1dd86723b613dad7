"""attributions/text.parquet: every item's word attributions, precomputed for the map's hover.

For each space whose items are texts, each item's text is explained against its own empty
baseline (training/explain/text_words.py, target None): which words carry the item's vector.
The build's default is Integrated Gradients in 2 steps: a hover needs the ranking of a few
words, which 2 steps already give, at a few tens of milliseconds per item on a CPU; the
completeness delta is stored with each row. `--attribution-method gradient_x_input` (one pass
per item) is faster and ranks worse; more `--attribution-steps` are closer to complete. The API
runs full 50-step IG on demand for "why are these close?".
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

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from vitrina.schemas.bundle_files import TEXT_ATTRIBUTIONS_SCHEMA, read_checked, write_checked

log = logging.getLogger("vitrina.indexer")

# The build's default: two-point (Gauss-Legendre) Integrated Gradients. On 64 openclipart texts
# with MiniLM on 2 cores (bench/attributions.py, docs/benchmarks.md section 12.1) it ran at 20.7
# items/s against 2.7 for 20 steps, and ranked words like 50-step IG (median Spearman 0.89; IG's
# top word among its top 3 for 92% of texts), where gradient x input (29.7 items/s) reached 0.70
# and 73%. Its completeness delta is large (up to 0.79 of a change near 1), and stored per row.
DEFAULT_METHOD = "integrated_gradients"
DEFAULT_STEPS = 2
METHODS = ("integrated_gradients", "gradient_x_input")
REDUCTION = "sum"
LEGACY_METHOD = "integrated_gradients"  # rows written before the method was stored


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _row(space: str, item_id: str, text: str, fingerprint: str, result: Any) -> dict[str, Any]:
    return {
        "space": space, "id": item_id, "text_sha256": text_sha256(text), "fingerprint": fingerprint,
        "words": [w.to_dict() for w in result.words], "score": result.score, "baseline_score": result.baseline_score,
        "delta": result.delta, "n_steps": result.n_steps, "reduction": result.reduction, "method": result.method,
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
    method: str = DEFAULT_METHOD,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows for every (id, text) of one space, reusing `previous` rows that still apply.

    Returns the rows and counts {"computed", "reused"}. `steps` counts for integrated_gradients
    only; gradient_x_input is one step.
    """
    if method == "gradient_x_input":
        steps = 1
    if explain is None:
        from vitrina.training.explain.text_words import explain_texts as explain
    rows: list[dict[str, Any] | None] = [None] * len(ids)
    todo = []
    for i, (item_id, text) in enumerate(zip(ids, texts)):
        old = (previous or {}).get((space, item_id))
        if (old is not None and old["text_sha256"] == text_sha256(text) and old["fingerprint"] == encoder.fingerprint
                and old["n_steps"] == steps and old["reduction"] == REDUCTION and old["method"] == method):
            rows[i] = old
        else:
            todo.append(i)
    # Texts of similar length together: a batch is padded to its longest text, and an even spread
    # of a collection mixes one-word titles with long descriptions.
    todo.sort(key=lambda i: len(texts[i]))
    with tqdm(total=len(todo), desc=f"attributions {space}", unit="item", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            results = explain(encoder, [texts[i] for i in batch], None, n_steps=steps, reduction=REDUCTION,
                              batch_size=batch_size, method=method)
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
    if "method" in pq.read_schema(path).names:
        table = read_checked(path, TEXT_ATTRIBUTIONS_SCHEMA)
    else:
        legacy = TEXT_ATTRIBUTIONS_SCHEMA.remove(TEXT_ATTRIBUTIONS_SCHEMA.get_field_index("method"))
        table = read_checked(path, legacy)
        table = table.append_column(TEXT_ATTRIBUTIONS_SCHEMA.field("method"),
                                    pa.array([LEGACY_METHOD] * table.num_rows, pa.string()))
    return {(row["space"], row["id"]): row for row in table.to_pylist()}


def completeness_error(rows: Sequence[Mapping[str, Any]]) -> float:
    """Largest |sum of word scores - (score - baseline_score)| over the rows (for the build report)."""
    if not rows:
        return 0.0
    return float(max(abs(sum(w["score"] for w in r["words"]) - (r["score"] - r["baseline_score"])) for r in rows))


__all__ = [
    "DEFAULT_METHOD", "DEFAULT_STEPS", "METHODS", "TEXT_ATTRIBUTIONS_SCHEMA", "attribute_space", "completeness_error", "read_text_attributions",
    "spread", "text_sha256", "write_text_attributions",
]
