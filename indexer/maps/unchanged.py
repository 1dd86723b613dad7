"""A space's maps taken from the parent version when nothing they are computed from changed.

Maps (projections, clusterings, their reducers) are a pure function of the space's rows in
order, their vectors, the words that name clusters, the methods asked for and the libraries
that fit them: every fit is seeded. `maps_inputs` hashes all of that; the maps report records
the hash, and a re-index whose hash equals the parent's copies the parent's files instead of
fitting again (training the joint space, for one, leaves the `image` and `text` vectors as
they were: minutes of UMAP and k-means saved per space on the demo).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from vitrina.schemas.bundle_layout import VersionPaths

log = logging.getLogger("vitrina.indexer")

# Raise when what a map holds, or how it is fitted, changes: older reports then never match.
MAPS_FORMAT = 1
_LIBRARIES = ("scikit-learn", "umap-learn", "numpy")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def maps_inputs(ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str | None], projections: Sequence[str],
                clusterings: Sequence[str]) -> str:
    """sha256 of everything a space's maps are computed from."""
    digest = hashlib.sha256()
    settings = {"format": MAPS_FORMAT, "projections": list(projections), "clusterings": list(clusterings),
                "libraries": {name: _version(name) for name in _LIBRARIES}}
    digest.update(json.dumps([settings, list(ids), list(texts)], ensure_ascii=False).encode())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)  # published versions are immutable: sharing the file is safe
    except OSError:
        shutil.copy2(source, target)


def reuse_parent_maps(inputs: str, parent: tuple[str, VersionPaths] | None, parent_report: dict[str, Any] | None,
                      paths: VersionPaths, space: str) -> dict[str, Any] | None:
    """The parent's maps report (marked as reused) after its map files were linked into `paths`;
    None when the parent has no such maps, or they were computed from other inputs."""
    if parent is None or not parent_report or parent_report.get("inputs") != inputs:
        return None
    version, parent_paths = parent
    files = [parent_paths.projections(space)]
    if parent_paths.clusters(space).is_file():
        files.append(parent_paths.clusters(space))
    reducers = parent_paths.reducer(space, "umap").parent
    if reducers.is_dir():
        files += sorted(reducers.glob("*.pkl"))
    if not files[0].is_file():
        return None
    try:
        for source in files:
            _link_or_copy(source, paths.space_dir(space) / source.relative_to(parent_paths.space_dir(space)))
    except OSError as exc:  # e.g. the parent was deleted meanwhile: fit again
        log.warning("parent maps unreadable; refitting", extra={"space": space, "error": str(exc)})
        return None
    log.info("maps unchanged; taken from the parent", extra={"space": space, "parent": version})
    kept = {k: v for k, v in parent_report.items() if k not in ("reused_from", "saved_seconds")}
    return {**kept, "reused_from": version, "seconds": 0.0,
            "saved_seconds": parent_report.get("saved_seconds", parent_report.get("seconds"))}
