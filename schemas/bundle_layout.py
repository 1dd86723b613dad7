"""Where things live inside a collection folder: the one statement of the bundle layout.

The indexer writes through these paths, the search API reads through them, and training finds
a published version's items and vectors through them, so the layout is coded once.

    <root>/<collection>/CURRENT            published version name (atomic rename)
    <root>/<collection>/history.jsonl      one line per switch of CURRENT (publish, rollback)
    <root>/<collection>/versions/<v>/      immutable once renamed into place
    <root>/<collection>/.staging/<key>/    an unfinished build, resumable by key
    <root>/<collection>/.chunks/<encoder>/ encoded chunks of unfinished builds, by what fixes their vectors
    <root>/<collection>/.trash/            versions being deleted (moved out of versions/ first)
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vitrina.schemas.errors import FieldError

CURRENT = "CURRENT"
HISTORY = "history.jsonl"
LOCK = ".lock"
VERSIONS = "versions"
STAGING = ".staging"
CHUNKS = ".chunks"
TRASH = ".trash"
MANIFEST = "manifest.json"
ITEMS = "items.parquet"
BUILD_REPORT = "reports/build.json"
OUTLIERS = "reports/outliers.parquet"
SHADOW_REPORT = "reports/shadow.json"
EVAL_REPORT = "reports/eval.json"  # written by indexer/evaluate.py
TEXT_ATTRIBUTIONS = "attributions/text.parquet"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_name(value: str, what: str) -> str:
    """Collection and version names become folder names: keep them boring."""
    if not _NAME_RE.match(value or ""):
        raise ValueError(
            f"{what} {value!r} is not a valid name: use letters, digits, '_', '-', '.', "
            "starting with a letter or digit, at most 128 characters"
        )
    return value


@dataclass(frozen=True)
class VersionPaths:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def items(self) -> Path:
        return self.root / ITEMS

    @property
    def build_report(self) -> Path:
        return self.root / BUILD_REPORT

    @property
    def outliers(self) -> Path:
        return self.root / OUTLIERS

    @property
    def eval_report(self) -> Path:
        return self.root / EVAL_REPORT

    @property
    def shadow_report(self) -> Path:
        """The comparison with CURRENT made before publishing (`vitrina index shadow`)."""
        return self.root / SHADOW_REPORT

    @property
    def text_attributions(self) -> Path:
        """Per-item word attributions of every text-indexed space (the map's hover)."""
        return self.root / TEXT_ATTRIBUTIONS

    def space_dir(self, space: str) -> Path:
        return self.root / "spaces" / space

    def embeddings(self, space: str) -> Path:
        return self.space_dir(space) / "embeddings.parquet"

    def vectors(self, space: str) -> Path:
        """The serving copy of embeddings.parquet's vectors: a float32 .npy that the server
        memory-maps, so it never holds them in RAM (row i is embeddings.parquet's row i)."""
        return self.space_dir(space) / "vectors.npy"

    def index(self, space: str) -> Path:
        return self.space_dir(space) / "index.faiss"

    def neighbours(self, space: str) -> Path:
        return self.space_dir(space) / "neighbours.parquet"

    def projections(self, space: str) -> Path:
        return self.space_dir(space) / "projections.parquet"

    def clusters(self, space: str) -> Path:
        return self.space_dir(space) / "clusters.parquet"

    def reducer(self, space: str, method: str) -> Path:
        """The fitted UMAP/PCA model of a space's map, to place new items without refitting."""
        return self.space_dir(space) / "reducers" / f"{method}.pkl"


@dataclass(frozen=True)
class CollectionPaths:
    root: Path

    @classmethod
    def of(cls, bundles_root: str | Path, collection: str) -> "CollectionPaths":
        return cls(Path(bundles_root) / check_name(collection, "collection"))

    @property
    def current_file(self) -> Path:
        return self.root / CURRENT

    @property
    def history_file(self) -> Path:
        return self.root / HISTORY

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK

    @property
    def trash(self) -> Path:
        return self.root / TRASH

    def version(self, version: str) -> VersionPaths:
        return VersionPaths(self.root / VERSIONS / check_name(version, "version"))

    def staging(self, key: str) -> VersionPaths:
        return VersionPaths(self.root / STAGING / key)

    def chunks(self, fingerprint: str) -> Path:
        """Encoded chunks of one encoder, shared by every build of the collection: a chunk's
        vectors depend on the encoder and its items' content, not on the build's other options."""
        return self.root / CHUNKS / hashlib.sha256(fingerprint.encode()).hexdigest()[:16]

    def current(self) -> str | None:
        try:
            value = self.current_file.read_text().strip()
        except FileNotFoundError:
            return None
        return value or None

    def published(self, version: str | None = None) -> VersionPaths:
        """The folder of `version`, or of CURRENT's; FieldError names what is missing.

        CURRENT is read afresh on every call: the collection may have been republished since.
        """
        if version is None:
            version = self.current()
            if version is None:
                raise FieldError(CURRENT, "is missing: not a bundle folder (<root>/<collection>) or nothing published",
                                 self.root)
        paths = self.version(version)
        if not paths.root.is_dir():
            raise FieldError("version", f"{version!r} is missing", self.root)
        return paths

    def versions(self) -> list[str]:
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / MANIFEST).is_file())


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write then rename, so a reader sees the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
