"""Which versions to keep: the newest N, plus whatever serving or a rollback may still need."""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from datetime import datetime, timezone

from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.indexer.bundle.writer import collection_lock
from vitrina.indexer.versions.history import previous_published
from vitrina.schemas import Manifest
from vitrina.schemas.errors import FieldError

log = logging.getLogger("vitrina.indexer")

_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def newest_first(coll: CollectionPaths) -> list[str]:
    """Finished versions (folders with a manifest), newest build first.

    Ordered by the manifest's created_at rather than the name, which only happens to sort
    by time for names the build chose; an unreadable manifest counts as oldest."""
    def created(version: str) -> datetime:
        try:
            return Manifest.read(coll.version(version).manifest).created_at
        except (OSError, ValueError):
            return _OLDEST

    return sorted(coll.versions(), key=lambda v: (created(v), v), reverse=True)


def protected(coll: CollectionPaths) -> set[str]:
    """CURRENT, its manifest parent and the version a rollback would return to."""
    current = coll.current()
    if current is None:
        return set()
    keep = {current}
    paths = coll.version(current)
    if paths.manifest.is_file():
        parent = Manifest.read(paths.manifest).parent
        if parent:
            keep.add(parent)
    previous = previous_published(coll, current)
    if previous:
        keep.add(previous)
    return keep


def check_keep(keep: int, field: str = "keep") -> None:
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise FieldError(field, f"must be an integer >= 1, got {keep!r}")


def collect_garbage(coll: CollectionPaths, keep: int, also_keep: set[str] = frozenset(), dry_run: bool = False) -> list[str]:
    """Delete every version but the newest `keep` and the protected ones; returns the removed
    versions, oldest first. Only finished versions are considered (a build in progress lives
    in .staging/ until it is complete), and each is moved out of versions/ in one rename
    before it is deleted, so a reader never lists a half-deleted version."""
    check_keep(keep)
    # Under the lock so a concurrent publish or rollback cannot make a doomed version CURRENT.
    with collection_lock(coll):
        ordered = newest_first(coll)
        kept = set(ordered[:keep]) | protected(coll) | set(also_keep)
        doomed = [v for v in reversed(ordered) if v not in kept]
        if dry_run:
            return doomed
        moved = []
        coll.trash.mkdir(parents=True, exist_ok=True)
        for version in doomed:
            target = coll.trash / f"{version}-{uuid.uuid4().hex[:8]}"
            os.rename(coll.version(version).root, target)
            moved.append(target)
    # Deleting the files can take a while; it need not hold up publishes.
    for target in moved:
        shutil.rmtree(target, ignore_errors=True)
    if doomed:
        log.info("versions removed", extra={"collection": coll.root.name, "versions": doomed, "kept": keep})
    return doomed
