"""Reading the collection's history.jsonl: one line per switch of CURRENT, written by
`bundle.writer.set_current` ({time, version, previous, action, ...})."""
from __future__ import annotations

import json
from typing import Any

from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.schemas import Manifest


def read_history(coll: CollectionPaths) -> list[dict[str, Any]]:
    """Every entry, oldest first; a line that does not parse (a crash mid-write) is skipped."""
    try:
        lines = coll.history_file.read_text().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def previous_published(coll: CollectionPaths, version: str) -> str | None:
    """The version that was CURRENT before `version` was published: what a rollback returns to.

    The last publish of `version` in the history says it; rollbacks are skipped, so rolling
    back twice walks further back instead of toggling between two versions. Collections
    published before the history existed fall back to the manifest's parent, when it exists.
    """
    for entry in reversed(read_history(coll)):
        if entry.get("version") == version and entry.get("action") != "rollback":
            return entry.get("previous")
    paths = coll.version(version)
    if not paths.manifest.is_file():
        return None
    parent = Manifest.read(paths.manifest).parent
    return parent if parent and coll.version(parent).manifest.is_file() else None
