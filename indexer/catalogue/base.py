"""What every catalogue adapter yields."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

# Metadata values: scalars or lists of scalars (materials, multi-category).
MetaValue = str | int | float | bool | None | list[str | int | float | bool]


@dataclass
class Item:
    id: str
    title: str = ""
    text: str = ""
    image_ref: str | None = None
    metadata: dict[str, MetaValue] = field(default_factory=dict)
    # Set by adapters when an image was declared but cannot be used.
    image_status: str | None = None
    content_hash: str = ""

    def compute_hash(self) -> str:
        """Hash of everything that changes an embedding: text, metadata and image bytes."""
        h = hashlib.sha256()
        payload = {"title": self.title, "text": self.text, "metadata": self.metadata}
        h.update(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode())
        if self.image_ref and self.image_status is None:
            try:
                with open(self.image_ref, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError as exc:
                self.image_status = f"unreadable: {exc.strerror or exc}"
        return h.hexdigest()[:32]


class Catalogue(Protocol):
    """A source of items; `spec` is recorded in the manifest."""

    spec: str
    root: Path | None

    def __iter__(self) -> Iterator[Item]: ...


class CatalogueError(ValueError):
    """A catalogue cannot be read as asked (bad spec, missing column, duplicate ids)."""


class DuplicateIdError(CatalogueError):
    def __init__(self, duplicates: dict[str, int]):
        self.duplicates = duplicates
        listed = ", ".join(f"{k!r} x{v}" for k, v in sorted(duplicates.items())[:20])
        more = "" if len(duplicates) <= 20 else f" and {len(duplicates) - 20} more"
        super().__init__(f"duplicate item ids: {listed}{more}")
