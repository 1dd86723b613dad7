"""Which metadata attributes are labels (categorical), and an item's label for one.

Shared by the evaluation (label agreement of neighbours), the build (label
outliers) and the API (which attributes an outlier request may name), so all
three agree on the set; kept free of heavy imports because the API loads it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from vitrina.indexer.bundle.reader import ItemTable

__all__ = ["MAX_ATTRIBUTE_CLASSES", "MIN_MEAN_CLASS_SIZE", "categorical_attributes", "labels_of"]

# An attribute with more values than this is closer to an identifier than to a class.
MAX_ATTRIBUTE_CLASSES = 200
# ... and one whose classes average fewer than this many items has no clusters to find.
MIN_MEAN_CLASS_SIZE = 5


def categorical_attributes(items: ItemTable, max_classes: int = MAX_ATTRIBUTE_CLASSES) -> list[str]:
    """Metadata keys whose values are single strings on most items, with few enough distinct values to be classes."""
    values: dict[str, list[str]] = {}
    rejected: set[str] = set()
    for meta in items.metadata:
        for key, value in meta.items():
            if value is None:
                continue
            if not isinstance(value, str):
                rejected.add(key)
            else:
                values.setdefault(key, []).append(value)
    out = []
    for key in sorted(set(values) - rejected):
        labelled = values[key]
        classes = len(set(labelled))
        if len(labelled) * 2 >= len(items) and 2 <= classes <= max_classes and len(labelled) >= MIN_MEAN_CLASS_SIZE * classes:
            out.append(key)
    return out


def labels_of(items: ItemTable, ids: Sequence[str], attribute: str) -> list[str | None]:
    """The `attribute` label of each item in `ids` (None where it has none), in that order."""
    return [items.metadata[items.row_of[item_id]].get(attribute) for item_id in ids]
