"""Helpers shared by the adapters: reports, text joining, id checks, value coercion."""
from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Iterable

from vitrina.indexer.catalogue.base import DuplicateIdError, Item, MetaValue

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})

# Reports land in the manifest, so examples are capped to keep it readable.
MAX_EXAMPLES = 20

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def new_report(**extra: Any) -> dict[str, Any]:
    """Counts every adapter fills; adapters add their own keys through `extra`."""
    report: dict[str, Any] = {
        "items": 0,
        "skipped_rows": {},
        "skipped_examples": [],
        "images_missing": 0,
        "images_unreadable": 0,
        "images_unsupported": 0,
        "without_image": 0,
    }
    report.update(extra)
    return report


def skip(report: dict[str, Any], reason: str, where: str) -> None:
    skipped = report["skipped_rows"]
    skipped[reason] = skipped.get(reason, 0) + 1
    if len(report["skipped_examples"]) < MAX_EXAMPLES:
        report["skipped_examples"].append(f"{where}: {reason}")


def finish(item: Item, report: dict[str, Any]) -> Item:
    """Hash the item (which may mark its image unreadable) and count its image state."""
    item.content_hash = item.compute_hash()
    status = item.image_status or ""
    if item.image_ref is None:
        report["without_image"] += 1
    elif status == "missing":
        report["images_missing"] += 1
    elif status.startswith("unreadable"):
        report["images_unreadable"] += 1
    elif status.startswith("unsupported"):
        report["images_unsupported"] += 1
    report["items"] += 1
    return item


def image_status_for(path: str) -> str | None:
    """Status an adapter sets before hashing; None means "try to read it"."""
    if _URL.match(path):
        # Nothing here downloads; the indexer would otherwise fail on open().
        return "unsupported: remote URL (download the images and point the image column at local files)"
    if not os.path.exists(path):  # also catches dangling symlinks
        return "missing"
    return None


def resolve_image(value: str, base: str) -> str:
    """Absolute, normalised path for an image reference (URLs pass through)."""
    if value.startswith("file://"):
        value = value[len("file://"):]
    elif _URL.match(value):
        return value
    value = os.path.expanduser(value)
    return os.path.normpath(value if os.path.isabs(value) else os.path.join(base, value))


def clean(text: Any) -> str:
    """One line of text: collapses the newlines and runs of spaces catalogues are full of."""
    if text is None:
        return ""
    if isinstance(text, (list, tuple)):
        return ", ".join(p for p in (clean(t) for t in text) if p)
    if isinstance(text, float) and math.isnan(text):
        return ""
    return " ".join(str(text).split())


def join_text(parts: Iterable[Any], sep: str = ". ") -> str:
    """Join non-empty parts; a part that already ends a sentence gets no extra period."""
    out = ""
    for part in parts:
        part = clean(part)
        if not part:
            continue
        if not out:
            out = part
        elif out[-1] in ".!?;:":
            out += " " + part
        else:
            out += sep + part
    return out


def title_from_stem(stem: str, drop_counter: bool = False) -> str:
    """'gatto_nero_01' -> 'gatto nero 01'; 'gatto nero' with drop_counter.

    drop_counter removes only a zero-padded "_0N": the de-duplication counter of
    packaged collections, unlike the "_6" of 'simple_h_6' (six of hearts).
    """
    if drop_counter:
        stem = re.sub(r"(?<=.)_0\d$", "", stem)
    return " ".join(re.sub(r"[_\-]+", " ", stem).split())


def normalise_id(value: Any) -> str | None:
    """Item ids are strings; None means the row has no usable id."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        # An int column with a null in it comes out of pandas as float: 12.0 means id "12".
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        # Structs have no MetaValue shape; JSON keeps them readable and lossless.
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def meta_value(value: Any) -> MetaValue:
    """Arrow/Python value -> MetaValue: numbers stay numbers, lists stay lists of scalars."""
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            v = _scalar(v) if not isinstance(v, (list, tuple)) else json.dumps(v, default=str)
            if v is not None and v != "":
                out.append(v)
        return out
    value = _scalar(value)
    # An empty cell means "unknown" in every catalogue seen; CSV cannot say null for strings.
    return None if value == "" else value


def find_duplicates(ids: Iterable[str]) -> dict[str, int]:
    return {k: n for k, n in Counter(ids).items() if n > 1}


def raise_if_duplicates(ids: Iterable[str], hint: str) -> None:
    duplicates = find_duplicates(ids)
    if duplicates:
        exc = DuplicateIdError(duplicates)
        # base.py fixes the message to the list of ids; the fix depends on the adapter.
        exc.args = (f"{exc.args[0]}. {hint}",)
        raise exc
