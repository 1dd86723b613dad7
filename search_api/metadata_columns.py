"""Item metadata as typed columns, for the map's colour-by, legends and filters.

The catalogue stores metadata as one JSON object per item, so a column's type is decided here,
once per bundle version, from the values it holds:
- numeric: every non-null value is a number (bools are not numbers here);
- tags: every non-null value is a list (keywords, tags); each element is a category;
- categorical: anything else, as text; at most MAX_CATEGORIES distinct values;
- text: a categorical column with more distinct values than that (titles, free text): listed
  in the catalogue, never sent as a column, since a legend of 50k entries helps nobody.

Columns go out as Arrow, categoricals dictionary-encoded: a million rows of a 12-value
`category` cost 4 MB of int32 codes instead of the repeated strings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa

MAX_CATEGORIES = 4096
NUMERIC, CATEGORICAL, TAGS, TEXT = "numeric", "categorical", "tags", "text"
# The values a categorical legend shows first, in the catalogue.
TOP_VALUES = 20


@dataclass
class ColumnInfo:
    name: str
    kind: str
    present: int = 0
    distinct: int = 0
    # numeric: min and max; categorical and tags: the most common values, with counts.
    min: float | None = None
    max: float | None = None
    top: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "present": self.present, "distinct": self.distinct,
            "min": self.min, "max": self.max, "top": [{"value": v, "count": c} for v, c in self.top],
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_category(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class MetadataColumns:
    """Every metadata column of a bundle's items, typed, in the items' row order."""

    def __init__(self, metadata: Sequence[Mapping[str, Any]]):
        self.rows = len(metadata)
        names: dict[str, None] = {}
        for record in metadata:
            names.update(dict.fromkeys(record))
        self._values = {name: [record.get(name) for record in metadata] for name in names}
        self.columns: dict[str, ColumnInfo] = {name: _describe(name, values) for name, values in self._values.items()}

    def sendable(self) -> list[str]:
        return [name for name, info in self.columns.items() if info.kind != TEXT]

    def check(self, names: Sequence[str]) -> str | None:
        """The first name that is no sendable column, or None."""
        for name in names:
            info = self.columns.get(name)
            if info is None or info.kind == TEXT:
                return name
        return None

    def arrow_table(self, names: Sequence[str], rows: np.ndarray | None = None) -> pa.Table:
        """The columns `names` (all sendable ones when empty), for the items at `rows` (items
        order) or every item. Unknown or text columns: KeyError naming the column."""
        names = list(names) or self.sendable()
        bad = self.check(names)
        if bad is not None:
            raise KeyError(bad)
        arrays = [self._array(name, rows) for name in names]
        return pa.table(arrays, names=names)

    def _array(self, name: str, rows: np.ndarray | None) -> pa.Array:
        values = self._values[name]
        if rows is not None:
            values = [values[r] for r in rows]
        kind = self.columns[name].kind
        if kind == NUMERIC:
            return pa.array([float(v) if _is_number(v) else None for v in values], type=pa.float64())
        if kind == TAGS:
            flat = [[_as_category(t) for t in v] if isinstance(v, list) else None for v in values]
            lists = pa.array(flat, type=pa.list_(pa.string()))
            # Each element a dictionary code too: a tag filter compares ints, not strings.
            return pa.ListArray.from_arrays(lists.offsets, lists.values.dictionary_encode(), mask=lists.is_null())
        cats = [None if v is None else _as_category(v) for v in values]
        return pa.array(cats, type=pa.string()).dictionary_encode()


def _describe(name: str, values: list[Any]) -> ColumnInfo:
    present = [v for v in values if v is not None]
    info = ColumnInfo(name, CATEGORICAL, present=len(present))
    if present and all(_is_number(v) for v in present):
        numbers = np.asarray(present, dtype=np.float64)
        info.kind, info.min, info.max = NUMERIC, float(numbers.min()), float(numbers.max())
        info.distinct = int(np.unique(numbers).size)
        return info
    if present and all(isinstance(v, list) for v in present):
        info.kind = TAGS
        flat = [_as_category(t) for v in present for t in v]
    else:
        flat = [_as_category(v) for v in present]
    counts: dict[str, int] = {}
    for value in flat:
        counts[value] = counts.get(value, 0) + 1
    info.distinct = len(counts)
    if info.kind == CATEGORICAL and info.distinct > MAX_CATEGORIES:
        info.kind = TEXT
    # Ties in count by value, so the catalogue reads the same on every call.
    info.top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]
    return info
