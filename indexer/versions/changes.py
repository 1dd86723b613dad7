"""Which items a version adds, removes or changes relative to another (by content hash)."""
from __future__ import annotations

from typing import Mapping

from vitrina.schemas.bundle_layout import VersionPaths
from vitrina.schemas import ITEMS_SCHEMA, read_table_checked


def content_hashes(paths: VersionPaths) -> dict[str, str]:
    """{item id: content hash} of a version's catalogue snapshot."""
    table = read_table_checked(paths.items, ITEMS_SCHEMA)
    return dict(zip(table.column("id").to_pylist(), table.column("content_hash").to_pylist()))


def item_changes(old: Mapping[str, str] | None, new: Mapping[str, str]) -> dict[str, int]:
    """Counts of items added, removed, changed and unchanged from `old` to `new` (no `old`: all added)."""
    old = old or {}
    both = new.keys() & old.keys()
    changed = sum(1 for item_id in both if new[item_id] != old[item_id])
    return {
        "items_added": len(new.keys() - old.keys()),
        "items_removed": len(old.keys() - new.keys()),
        "items_changed": changed,
        "items_unchanged": len(both) - changed,
    }
