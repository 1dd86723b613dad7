"""Several texts ("views") of one catalogue item, the raw material of the text recipes and the STS set.

No paraphrasing model is reachable offline, so two texts that describe the same
item are taken from its own fields: the title, the keyword list and the rest of
the description. They say the same thing in different words, which is what a
paraphrase pair is for (supervised InfoNCE positives, STS grade 4).

The catalogue's `text` is "<title>. <extra>. <keyword, keyword>. <description>"
(see indexer/catalogue), so the description view is that text with the title
and keyword segments cut out; whatever is left (a file-name hint, a sentence)
describes the item without repeating the other two views.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

from vitrina.schemas.errors import FieldError

VIEW_KINDS: tuple[str, ...] = ("title", "keywords", "description")
DEFAULT_KEYWORD_FIELDS: tuple[str, ...] = ("keywords", "tags")
# A one-letter view carries no meaning a model could match.
MIN_VIEW_CHARS = 2
_EDGE = " \t\n.,;:"


class TextItemLike(Protocol):
    """What a view builder reads; indexer's ItemRecord and TextItem both fit."""

    id: str
    title: str
    text: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class TextItem:
    id: str
    title: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemViews:
    item_id: str
    views: dict[str, str]  # kind -> text, only non-empty, mutually distinct views
    category: str | None = None
    subcategory: str | None = None

    @property
    def kinds(self) -> list[str]:
        return list(self.views)


class TextViewError(FieldError):
    """A field the view builder needs has an unusable value."""


def keywords_text(metadata: Mapping[str, Any], keyword_fields: Sequence[str] = DEFAULT_KEYWORD_FIELDS) -> str:
    """The first non-empty keyword field, as the catalogue writes it into `text` ("a, b, c")."""
    for name in keyword_fields:
        value = metadata.get(name)
        if not value:
            continue
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, (list, tuple)):
            # "_" is read as a space by the openclipart adapter when it writes `text`.
            return ", ".join(str(v).replace("_", " ").strip() for v in value if str(v).strip())
        raise TextViewError(f"metadata.{name}", f"expected a list of keywords or a string, got {type(value).__name__}")
    return ""


def _cut(text: str, segment: str) -> tuple[str, str] | None:
    at = text.find(segment) if segment else -1
    if at < 0:
        return None
    return text[:at], text[at + len(segment):]


def description_text(title: str, text: str, keywords: str) -> str:
    """`text` without its title and keyword segments: what only the description says."""
    rest = text or ""
    if title and rest.startswith(title):
        rest = rest[len(title):]
    parts = _cut(rest, keywords)
    pieces = [rest] if parts is None else list(parts)
    pieces = [p.strip(_EDGE) for p in pieces]
    return ". ".join(p for p in pieces if p)


def item_views(
    title: str,
    text: str,
    metadata: Mapping[str, Any],
    keyword_fields: Sequence[str] = DEFAULT_KEYWORD_FIELDS,
) -> dict[str, str]:
    """title / keywords / description of one item, dropping empty and repeated views."""
    title = (title or "").strip()
    keywords = keywords_text(metadata, keyword_fields)
    candidates = {"title": title, "keywords": keywords, "description": description_text(title, text, keywords)}
    views: dict[str, str] = {}
    seen: set[str] = set()
    for kind in VIEW_KINDS:
        value = re.sub(r"\s+", " ", candidates[kind]).strip()
        key = value.casefold()
        if len(value) < MIN_VIEW_CHARS or key in seen:
            continue
        seen.add(key)
        views[kind] = value
    return views


def _label(metadata: Mapping[str, Any], name: str | None) -> str | None:
    if not name:
        return None
    value = metadata.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, dict)):
        raise TextViewError(f"metadata.{name}", f"a grading label must be a single value, got {type(value).__name__}")
    return str(value)


def build_text_views(
    items: Iterable[TextItemLike],
    category_field: str | None = "category",
    subcategory_field: str | None = "subcategory",
    keyword_fields: Sequence[str] = DEFAULT_KEYWORD_FIELDS,
) -> list[ItemViews]:
    """Views of every item with at least one view, sorted by id so sampling never depends on input order."""
    out = []
    for item in items:
        views = item_views(item.title, item.text, item.metadata, keyword_fields)
        if not views:
            continue
        out.append(
            ItemViews(
                item_id=item.id,
                views=views,
                category=_label(item.metadata, category_field),
                subcategory=_label(item.metadata, subcategory_field),
            )
        )
    out.sort(key=lambda v: v.item_id)
    return out


def read_text_items(items_parquet: str | Path) -> list[TextItem]:
    """Items of a bundle's items.parquet (checked against the schema) as TextItems."""
    from vitrina.schemas import ITEMS_SCHEMA, read_table_checked

    table = read_table_checked(Path(items_parquet), ITEMS_SCHEMA)
    columns = {name: table.column(name).to_pylist() for name in ("id", "title", "text", "metadata")}
    return [
        TextItem(id=i, title=t or "", text=x or "", metadata=json.loads(m) if m else {})
        for i, t, x, m in zip(columns["id"], columns["title"], columns["text"], columns["metadata"])
    ]
