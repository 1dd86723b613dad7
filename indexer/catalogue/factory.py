"""Catalogue spec strings -> adapters, and the helpers the indexer uses on them."""
from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Any, Iterable

from vitrina.indexer.catalogue._common import raise_if_duplicates
from vitrina.indexer.catalogue.base import Catalogue, CatalogueError, Item
from vitrina.indexer.catalogue.folder import FolderCatalogue
from vitrina.indexer.catalogue.openclipart import DEFAULT_ROOT, OpenClipartCatalogue
from vitrina.indexer.catalogue.table import TableCatalogue

SCHEMES = {
    "table": "table:<file.csv|.tsv|.parquet|.jsonl>",
    "folder": "folder:<folder of images>",
    "openclipart": f"openclipart or openclipart:<root> (default {DEFAULT_ROOT})",
}


def _path(scheme: str, rest: str) -> Path:
    if not rest.strip():
        raise CatalogueError(f"catalogue spec '{scheme}:' needs a path, e.g. {SCHEMES[scheme]}")
    path = Path(os.path.expanduser(rest.strip())).absolute()
    if not path.exists():
        raise CatalogueError(f"catalogue {scheme}: {path} does not exist; check the path in '{scheme}:{rest}'")
    return path


def _unknown(spec: str) -> CatalogueError:
    valid = "; ".join(SCHEMES.values())
    hint = ""
    candidate = Path(os.path.expanduser(spec))
    if candidate.is_file():
        hint = f" To read this file as a table, write table:{spec}."
    elif candidate.is_dir():
        hint = f" To read this folder of images, write folder:{spec}."
    return CatalogueError(f"unknown catalogue spec {spec!r}; valid forms: {valid}.{hint}")


def open_catalogue(spec: str, **table_options: Any) -> Catalogue:
    """`table:<path>`, `folder:<path>`, `openclipart` or `openclipart:<root>`.

    Nothing is read yet except the listing checks; a table's columns are checked
    when iteration starts, before the first item. `table_options` go to
    `TableColumns` (or pass `columns=TableColumns(...)`); options left at None are
    ignored for the other schemes so a CLI can pass its defaults through.
    """
    scheme, sep, rest = spec.partition(":")
    scheme = scheme.strip().lower()
    if scheme not in SCHEMES or (scheme != "openclipart" and not sep):
        raise _unknown(spec)
    if scheme == "table":
        path = _path(scheme, rest)
        return TableCatalogue(path, spec=f"table:{path}", **table_options)
    given = sorted(k for k, v in table_options.items() if v is not None)
    if given:
        raise CatalogueError(f"table options ({', '.join(given)}) only apply to table: catalogues, not {scheme}:")
    if scheme == "folder":
        return FolderCatalogue(_path(scheme, rest))
    return OpenClipartCatalogue(_path(scheme, rest) if rest.strip() else DEFAULT_ROOT)


def collect(catalogue: Catalogue, limit: int | None = None) -> list[Item]:
    """All items, or at most `limit` of them, checked for duplicate ids.

    With a limit, image trees (folder:, openclipart) give a deterministic subset
    balanced across their top folders (see sampling.py); tables give their first
    `limit` rows.
    """
    if limit is None:
        items = list(catalogue)
    else:
        if limit < 0:
            raise CatalogueError(f"limit must be >= 0, got {limit}")
        sample = getattr(catalogue, "sample", None)
        items = list(sample(limit)) if callable(sample) else list(itertools.islice(iter(catalogue), limit))
        report = getattr(catalogue, "report", None)
        if isinstance(report, dict):
            report["limit"] = limit
    raise_if_duplicates((it.id for it in items), f"catalogue {catalogue.spec} yields the same id twice: its ids must be unique.")
    return items


def catalogue_fingerprint(items: Iterable[Item]) -> str:
    """sha256 over (id, content_hash) in id order: equal iff the same items with the same content."""
    h = hashlib.sha256()
    for item in sorted(items, key=lambda it: it.id):
        if not item.content_hash:
            raise CatalogueError(f"item {item.id!r} has no content_hash; set it with item.content_hash = item.compute_hash()")
        h.update(item.id.encode())
        h.update(b"\0")
        h.update(item.content_hash.encode())
        h.update(b"\n")
    return h.hexdigest()
