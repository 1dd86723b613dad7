"""Label outliers: items whose label disagrees with a strong majority of their neighbours.

Curators use them to find mislabelled items (`reports/outliers.parquet`, one
file for every space and labelled attribute, e.g. `categoria` and `povo`). The evidence
is the precomputed neighbour table, so the report costs no extra search.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from vitrina.indexer.checks import positive_int
from vitrina.schemas.errors import InvalidFieldError
from vitrina.schemas.bundle_files import OUTLIERS_SCHEMA, read_checked, write_checked

__all__ = ["OUTLIERS_SCHEMA", "Outlier", "find_label_outliers", "outliers_table", "read_outliers", "write_outliers"]

# Rows of the [rows, K, K] label-comparison cube per step: 65536 x 20 x 20 bools is 26 MB.
_CHUNK_CELLS = 65536 * 400


@dataclass(frozen=True)
class Outlier:
    """One item whose `attribute` label disagrees with its neighbourhood in `space`.

    Shares are fractions of the labelled neighbours looked at (at most k).
    confidence = majority_share - own_label_share: the majority share alone
    cannot tell "80% say B, the other 20% agree with the item's A" (an item on
    the border between A and B) from "80% say B and nobody says A" (an item
    that sits inside B); subtracting the support the item's own label still
    has ranks the second, likelier mislabelling, first.
    """

    space: str
    id: str
    attribute: str
    label: str
    majority_label: str
    majority_share: float
    own_label_share: float
    confidence: float


def find_label_outliers(
    neighbour_rows: np.ndarray,
    labels: Sequence[str | None],
    ids: list[str],
    space: str,
    attribute: str,
    k: int = 10,
    min_agreement: float = 0.7,
) -> list[Outlier]:
    """Labelled items whose first k labelled neighbours mostly (share >= min_agreement) carry another label.

    neighbour_rows: int [n, K] row numbers into `labels`/`ids`, best first, -1 for none
    (NeighbourTable.rows). K may exceed k: neighbours without a label are passed over
    and later ones used instead. Items without a label (None or "") are skipped.
    When labels tie for the most common, the item is an outlier only if its own label
    is not among them (it then reports the alphabetically first).
    Ranked by confidence (see Outlier), highest first, then by id.
    """
    rows = _check_rows(neighbour_rows)
    n = rows.shape[0]
    if len(labels) != n:
        raise InvalidFieldError("labels", f"has {len(labels)} entries but neighbour_rows has {n} rows")
    if len(ids) != n:
        raise InvalidFieldError("ids", f"has {len(ids)} entries but neighbour_rows has {n} rows")
    for name, value in (("space", space), ("attribute", attribute)):
        if not isinstance(value, str) or not value:
            raise InvalidFieldError(name, f"must be a non-empty string, got {value!r}")
    k = positive_int("k", k)
    if (
        isinstance(min_agreement, bool)
        or not isinstance(min_agreement, numbers.Real)
        or not 0 < min_agreement <= 1
    ):
        raise InvalidFieldError("min_agreement", f"must be a number in (0, 1], got {min_agreement!r}")

    vocabulary, codes = _encode(labels)
    found: list[Outlier] = []
    step = max(1, _CHUNK_CELLS // max(1, rows.shape[1] ** 2))
    for start in range(0, n, step):
        stop = min(start + step, n)
        for i, own, top, majority, used in zip(*_vote(rows[start:stop], codes, start, k)):
            share = top / used
            if share >= min_agreement:
                found.append(
                    Outlier(
                        space=space,
                        id=ids[i],
                        attribute=attribute,
                        label=vocabulary[codes[i]],
                        majority_label=vocabulary[majority],
                        majority_share=share,
                        own_label_share=own / used,
                        # One division of integer counts: equal evidence gives bit-equal scores, so ties sort by id.
                        confidence=(top - own) / used,
                    )
                )
    found.sort(key=lambda o: (-o.confidence, o.id))
    return found


def _vote(rows: np.ndarray, codes: np.ndarray, start: int, k: int) -> tuple[list[int], ...]:
    """For the items at rows start.. of one chunk that disagree with their neighbours' most common label:
    (item row, own-label count, top count, top label code, labelled neighbours used)."""
    m = rows.shape[0]
    own_row = np.arange(start, start + m)[:, None]
    # A table straight from search still lists the item itself; it must not vote for its own label.
    valid = (rows >= 0) & (rows != own_row)
    nb = np.where(valid, codes[np.maximum(rows, 0)], -1)
    labelled = nb >= 0
    use = labelled & (np.cumsum(labelled, axis=1) <= k)
    used = use.sum(axis=1)
    nb = np.where(use, nb, -1)
    # counts[i, j]: how many used neighbours of item i share the label at position j.
    counts = ((nb[:, :, None] == nb[:, None, :]) & use[:, None, :]).sum(axis=2)
    counts = np.where(use, counts, 0)
    top = counts.max(axis=1, initial=0)
    # Codes follow sorted label order, so the smallest tied code is the alphabetically first label.
    none = np.iinfo(np.int64).max
    majority = np.where(use & (counts == top[:, None]), nb, none).min(axis=1, initial=none)
    own_code = codes[start : start + m]
    own = (use & (nb == own_code[:, None])).sum(axis=1)
    # own < top: the item's label is not (one of) the most common among its neighbours.
    flagged = np.flatnonzero((own_code >= 0) & (used > 0) & (own < top))
    return (
        (start + flagged).tolist(),
        own[flagged].tolist(),
        top[flagged].tolist(),
        majority[flagged].tolist(),
        used[flagged].tolist(),
    )


def _encode(labels: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    """Sorted distinct labels and each item's index into them, -1 for no label."""
    for i, label in enumerate(labels):
        if label is not None and not isinstance(label, str):
            raise InvalidFieldError("labels", f"must hold strings or None, got {type(label).__name__} at position {i}")
    vocabulary = sorted({label for label in labels if label})
    code_of = {label: c for c, label in enumerate(vocabulary)}
    return vocabulary, np.array([code_of[label] if label else -1 for label in labels], dtype=np.int64)


def _check_rows(neighbour_rows: np.ndarray) -> np.ndarray:
    if (
        not isinstance(neighbour_rows, np.ndarray)
        or neighbour_rows.ndim != 2
        or not np.issubdtype(neighbour_rows.dtype, np.integer)
    ):
        raise InvalidFieldError("neighbour_rows", "must be an integer numpy array of shape [items, neighbours]")
    n = neighbour_rows.shape[0]
    if neighbour_rows.size and (neighbour_rows.min() < -1 or neighbour_rows.max() >= n):
        raise InvalidFieldError("neighbour_rows", f"must hold row numbers in [0, {n}) or -1")
    return neighbour_rows.astype(np.int64, copy=False)


def outliers_table(outliers: Sequence[Outlier]) -> pa.Table:
    """Outliers as an OUTLIERS_SCHEMA table, in the order given (find_label_outliers ranks them)."""
    columns = {f.name: [getattr(o, f.name) for o in outliers] for f in OUTLIERS_SCHEMA}
    return pa.table(columns, schema=OUTLIERS_SCHEMA)


def write_outliers(table: pa.Table, path: str | Path) -> None:
    write_checked(table, OUTLIERS_SCHEMA, path)


def read_outliers(path: str | Path) -> list[Outlier]:
    """Read an outliers.parquet; SchemaMismatchError / InvalidFieldError name the file and field."""
    path = Path(path)
    table = read_checked(path, OUTLIERS_SCHEMA)
    outliers = [Outlier(**row) for row in table.to_pylist()]
    for name in ("majority_share", "own_label_share", "confidence"):
        bad = [o.id for o in outliers if not math.isfinite(getattr(o, name))]
        if bad:
            raise InvalidFieldError(name, f"is not a finite number for {bad[:3]}", path)
    return outliers
