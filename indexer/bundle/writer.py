"""Writing a version and publishing it.

A build writes everything into `.staging/<key>/`; `publish` renames that
folder to `versions/<version>/` (one rename on one filesystem, so a version
appears whole or not at all) and only then switches CURRENT, itself written
to a temp file and renamed. A crash at any point leaves CURRENT untouched.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from vitrina.indexer.bundle.layout import CollectionPaths, VersionPaths, write_atomic
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


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def write_manifest(paths: VersionPaths, manifest: Manifest) -> None:
    write_atomic(paths.manifest, manifest.to_json())


def set_current(collection: CollectionPaths, version: str) -> None:
    if not collection.version(version).manifest.is_file():
        raise FileNotFoundError(f"version {version!r} of {collection.root} does not exist")
    write_atomic(collection.current_file, version + "\n")


def publish(collection: CollectionPaths, staging: VersionPaths, version: str) -> VersionPaths:
    """Move a finished staging folder into place and make it CURRENT."""
    if not staging.manifest.is_file():
        raise RuntimeError(f"{staging.root} has no manifest: the build did not finish, refusing to publish")
    target = collection.version(version)
    if target.root.exists():
        raise FileExistsError(f"version {version!r} already exists; versions are immutable")
    target.root.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging.root, target.root)
    set_current(collection, version)
    return target
