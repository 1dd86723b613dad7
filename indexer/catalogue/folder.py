"""`folder:<path>`: a tree of images whose folders are the categories.

    root/animals/mammals/cat_01.png -> id "animals/mammals/cat_01", title "cat 01",
    metadata {"category": "animals", "subcategory": "mammals"}

A file directly under root has category and subcategory None (the keys stay, so
every item of the catalogue has the same metadata columns).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vitrina.indexer.catalogue._common import IMAGE_EXTENSIONS, image_status_for, new_report, title_from_stem
from vitrina.indexer.catalogue._tree import TreeCatalogue, TreeEntry
from vitrina.indexer.catalogue.base import CatalogueError, Item


class FolderCatalogue(TreeCatalogue):
    extensions = IMAGE_EXTENSIONS

    def __init__(self, root: str | Path, spec: str | None = None):
        path = Path(root).expanduser().absolute()
        if not path.is_dir():
            what = "is not a folder" if path.exists() else "does not exist"
            raise CatalogueError(f"folder catalogue: {path} {what}; give a folder of images, e.g. folder:/data/images")
        super().__init__(spec or f"folder:{path}", path)

    def _new_report(self) -> dict[str, Any]:
        return new_report()

    def _make(self, entry: TreeEntry) -> Item:
        title = title_from_stem(entry.id.rsplit("/", 1)[-1])
        return Item(
            id=entry.id,
            title=title,
            text=title,
            image_ref=entry.path,
            metadata={"category": entry.category, "subcategory": entry.subcategory},
            image_status=image_status_for(entry.path),
        )
