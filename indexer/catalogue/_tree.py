"""Common machinery of catalogues read from a folder tree of images."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from vitrina.indexer.catalogue._common import finish, raise_if_duplicates
from vitrina.indexer.catalogue.base import Item
from vitrina.indexer.catalogue.sampling import spread_sample


@dataclass(frozen=True)
class TreeEntry:
    id: str  # relative path without extension, "/"-separated
    rel: str  # relative path with extension, "/"-separated
    path: str  # absolute path, symlinks not resolved (the tree's own view)

    @property
    def category(self) -> str | None:
        head, sep, _ = self.id.partition("/")
        return head if sep else None

    @property
    def subcategory(self) -> str | None:
        parts = self.id.split("/")[1:-1]
        return "/".join(parts) or None


def list_images(root: Path, extensions: Iterable[str]) -> tuple[list[TreeEntry], int]:
    """Image files under root sorted by id, and the number of other files ignored.

    Hidden files and folders are skipped: macOS '._x.jpg' companions look like
    images but are not. Symlinked folders are not followed (cycles); symlinked
    files are listed under their own path.
    """
    exts = {e.lower() for e in extensions}
    entries: list[TreeEntry] = []
    ignored = 0
    root_str = str(root)
    for dirpath, dirnames, filenames in os.walk(root_str):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root_str)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in filenames:
            stem, ext = os.path.splitext(name)
            if name.startswith(".") or ext.lower() not in exts:
                ignored += 1
                continue
            entries.append(TreeEntry(rel_dir + stem, rel_dir + name, os.path.join(dirpath, name)))
    entries.sort(key=lambda e: e.id)
    raise_if_duplicates(
        (e.id for e in entries),
        "Ids are file paths without extension, so two images differing only by "
        "extension (cat.png, cat.jpg) collide: rename or remove one of them.",
    )
    return entries, ignored


class TreeCatalogue:
    """Lists entries cheaply, builds items (hashing, metadata parsing) lazily."""

    spec: str
    root: Path | None
    report: dict[str, Any]
    extensions: frozenset[str]

    def __init__(self, spec: str, root: Path):
        self.spec = spec
        self.root = root
        self.report = self._new_report()
        self._entries: list[TreeEntry] | None = None

    # Adapters fill these two.
    def _new_report(self) -> dict[str, Any]:
        raise NotImplementedError

    def _make(self, entry: TreeEntry) -> Item:
        raise NotImplementedError

    def _image_root(self) -> Path:
        assert self.root is not None
        return self.root

    def entries(self) -> list[TreeEntry]:
        """Sorted entries; listed once, then cached (the tree is assumed not to change)."""
        if self._entries is None:
            self._entries, ignored = list_images(self._image_root(), self.extensions)
            self.report["files_ignored"] = ignored
        return self._entries

    def __length_hint__(self) -> int:
        return len(self.entries())

    def iter_entries(self, entries: list[TreeEntry]) -> Iterator[Item]:
        """Items for a subset of `entries()`; the report counts just those."""
        return self._build(entries, len(self.entries()))

    def _build(self, entries: list[TreeEntry], available: int) -> Iterator[Item]:
        ignored = self.report.get("files_ignored", 0)
        self.report = self._new_report()
        self.report["files_ignored"] = ignored
        self.report["available"] = available
        for entry in entries:
            yield finish(self._make(entry), self.report)

    def __iter__(self) -> Iterator[Item]:
        entries = self.entries()
        return self._build(entries, len(entries))

    def sample(self, limit: int) -> Iterator[Item]:
        """At most `limit` items balanced across top folders (see sampling.py)."""
        entries = self.entries()
        chosen = spread_sample(entries, limit, lambda e: e.category or "")
        return self._build(chosen, len(entries))
