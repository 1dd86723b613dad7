"""Writing a version and publishing it.

A build writes everything into `.staging/<key>/`; `place` renames that
folder to `versions/<version>/` (one rename on one filesystem, so a version
appears whole or not at all) and `publish` then switches CURRENT, itself written
to a temp file and renamed. A crash at any point leaves CURRENT untouched.
Every switch of CURRENT appends a line to the collection's history.jsonl, which
is how a rollback knows what was published before.
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import pyarrow as pa

from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths, write_atomic
from vitrina.indexer.catalogue.base import Item
from vitrina.schemas import ITEMS_SCHEMA, Manifest


def items_to_table(items: Iterable[Item]) -> pa.Table:
    rows = list(items)
    return pa.table(
        [
            pa.array([it.id for it in rows], pa.string()),
            pa.array([it.title for it in rows], pa.string()),
            pa.array([it.text for it in rows], pa.string()),
            pa.array([it.image_ref for it in rows], pa.string()),
            pa.array([it.image_status for it in rows], pa.string()),
            pa.array([json.dumps(it.metadata, ensure_ascii=False, default=str) for it in rows], pa.string()),
            pa.array([it.content_hash for it in rows], pa.string()),
        ],
        schema=ITEMS_SCHEMA,
    )


def write_manifest(paths: VersionPaths, manifest: Manifest) -> None:
    write_atomic(paths.manifest, manifest.to_json())


@contextmanager
def collection_lock(collection: CollectionPaths) -> Iterator[None]:
    """Excludes other publishes, rollbacks and garbage collections of the collection (any process),
    so CURRENT, the history and the set of versions change one step at a time. Not reentrant."""
    if not collection.root.is_dir():
        raise FileNotFoundError(f"{collection.root}: no such collection")
    with open(collection.lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def set_current(collection: CollectionPaths, version: str, record: dict[str, Any] | None = None) -> str | None:
    """Make `version` CURRENT and log the switch (with `record`) in history.jsonl; returns the previous CURRENT."""
    with collection_lock(collection):
        # Checked under the lock: a garbage collection cannot remove the version in between.
        if not collection.version(version).manifest.is_file():
            raise FileNotFoundError(f"version {version!r} of {collection.root} does not exist")
        previous = collection.current()
        write_atomic(collection.current_file, version + "\n")
        entry = {"time": datetime.now(timezone.utc).isoformat(), "version": version, "previous": previous, **(record or {})}
        # One short O_APPEND write per line: concurrent readers never see half a line.
        with open(collection.history_file, "a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
    return previous


def place(collection: CollectionPaths, staging: VersionPaths, version: str) -> VersionPaths:
    """Move a finished staging folder into versions/ without making it CURRENT (a shadow version)."""
    if not staging.manifest.is_file():
        raise RuntimeError(f"{staging.root} has no manifest: the build did not finish, refusing to publish")
    target = collection.version(version)
    if target.root.exists():
        raise FileExistsError(f"version {version!r} already exists; versions are immutable")
    target.root.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging.root, target.root)
    return target


def publish(collection: CollectionPaths, staging: VersionPaths, version: str) -> VersionPaths:
    """Move a finished staging folder into place and make it CURRENT."""
    target = place(collection, staging, version)
    set_current(collection, version, {"action": "build"})
    return target
