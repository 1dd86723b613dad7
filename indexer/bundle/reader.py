"""Opening a published version for serving.

Everything a request needs is opened up front (items, FAISS indexes, precomputed
neighbourhoods); encoders, the outlier report and the maps (projections, clusters) load
lazily because only some endpoints need them. A space's raw vectors are memory-mapped
(vectors.npy), not read into RAM: only exact re-scoring and filtered exact fallbacks touch
them, and every process serving the bundle shares their pages through the page cache.
"""
from __future__ import annotations

import json
import inspect
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

import numpy as np

from vitrina.indexer.bundle.chunks import table_to_vectors
from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths
from vitrina.schemas.bundle_files import open_vectors
from vitrina.schemas import ITEMS_SCHEMA, Manifest, Modality, SpaceManifest, embeddings_schema, read_table_checked

if TYPE_CHECKING:
    from vitrina.indexer.maps import ClusterSummary, NeighbourTable, Outlier, SpaceProjections

T = TypeVar("T")


class BundleNotFoundError(FileNotFoundError):
    """No published version where one was expected."""


@dataclass(frozen=True)
class ItemRecord:
    id: str
    title: str
    text: str
    image_ref: str | None
    image_status: str | None
    metadata: dict[str, Any]
    content_hash: str


class ItemTable:
    """The catalogue snapshot, indexed by id and by row."""

    def __init__(self, path: Path):
        table = read_table_checked(path, ITEMS_SCHEMA)
        self.ids: list[str] = table.column("id").to_pylist()
        self.row_of: dict[str, int] = {item_id: row for row, item_id in enumerate(self.ids)}
        self._title = table.column("title").to_pylist()
        self._text = table.column("text").to_pylist()
        self._image = table.column("image_ref").to_pylist()
        self._status = table.column("image_status").to_pylist()
        self._hash = table.column("content_hash").to_pylist()
        self.metadata: list[dict[str, Any]] = [json.loads(m) if m else {} for m in table.column("metadata").to_pylist()]

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.row_of

    def record(self, row: int) -> ItemRecord:
        return ItemRecord(
            id=self.ids[row],
            title=self._title[row] or "",
            text=self._text[row] or "",
            image_ref=self._image[row] if not self._status[row] else None,
            image_status=self._status[row],
            metadata=self.metadata[row],
            content_hash=self._hash[row],
        )

    def get(self, item_id: str) -> ItemRecord | None:
        row = self.row_of.get(item_id)
        return None if row is None else self.record(row)


class _Lazy(Generic[T]):
    """A value loaded on first use, exactly once even when request threads race for it."""

    def __init__(self, load: Callable[[], T]):
        # A bound method of the owner (Bundle, Space) held weakly: a strong one would make each
        # bundle a reference cycle, kept alive after a server swapped it out until the cycle
        # collector happened to run.
        self._load = weakref.WeakMethod(load) if inspect.ismethod(load) else (lambda: load)
        self._value: T | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def get(self) -> T:
        # The unlocked check keeps every call after the first lock-free.
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._value = self._load()()
                    self._loaded = True
        return self._value  # type: ignore[return-value]


def _read_vectors(paths: VersionPaths, manifest: SpaceManifest) -> tuple[list[str], np.ndarray]:
    """The space's ids, and its vectors memory-mapped from vectors.npy; versions written before
    that file existed have their vectors read from embeddings.parquet into RAM."""
    schema = embeddings_schema(manifest.dim)
    mapped = paths.vectors(manifest.name)
    if mapped.exists():
        ids = read_table_checked(paths.embeddings(manifest.name), schema, columns=["id"]).column("id").to_pylist()
        return ids, open_vectors(mapped, len(ids), manifest.dim)
    table = read_table_checked(paths.embeddings(manifest.name), schema)
    return table.column("id").to_pylist(), table_to_vectors(table, manifest.dim)


class Space:
    def __init__(
        self,
        paths: VersionPaths,
        manifest: SpaceManifest,
        items: ItemTable,
        use_gpu: bool | None = None,
        encoder_factory: Callable[..., Any] | None = None,
    ):
        from vitrina.indexer.index import VectorIndex

        self.name = manifest.name
        self.manifest = manifest
        self.paths = paths
        self.ids, self.vectors = _read_vectors(paths, manifest)
        self.row_of: dict[str, int] = {item_id: row for row, item_id in enumerate(self.ids)}
        # Space row -> items row, so metadata filters (over items) become masks over index rows.
        self.item_rows = np.fromiter((items.row_of[i] for i in self.ids), dtype=np.int64, count=len(self.ids))
        self.index = VectorIndex.load(paths.index(self.name), manifest.index, vectors=self.vectors, use_gpu=use_gpu)
        self.neighbours: NeighbourTable | None = _read_neighbours(paths.neighbours(self.name), self.ids)
        self._encoders: dict[Modality, Any] = {}
        self._encoder_factory = encoder_factory
        self._lock = threading.Lock()
        self._projections: _Lazy[SpaceProjections] = _Lazy(self._read_projections)
        self._clusters: _Lazy[list[ClusterSummary]] = _Lazy(self._read_clusters)

    @property
    def query_modalities(self) -> list[Modality]:
        return list(self.manifest.encoders)

    def encoder(self, modality: Modality):
        """The encoder for queries of `modality`, created on first use."""
        if modality not in self.manifest.encoders:
            raise KeyError(modality)
        with self._lock:
            if modality not in self._encoders:
                factory = self._encoder_factory
                if factory is None:
                    from vitrina.training.encoders import create_encoder as factory
                info = self.manifest.encoders[modality]
                encoder = factory(info.spec, modality=modality)
                if encoder.fingerprint != info.fingerprint:
                    raise RuntimeError(
                        f"space {self.name!r}: encoder {info.spec} now has fingerprint {encoder.fingerprint}, "
                        f"but the bundle was built with {info.fingerprint}; re-index or restore the weights"
                    )
                self._encoders[modality] = encoder
            return self._encoders[modality]

    def preload_encoders(self) -> None:
        for modality in self.manifest.encoders:
            self.encoder(modality)

    def projections(self) -> SpaceProjections:
        """(ids, {method: float32 [n, 2]}, {clustering: int32 [n], -1 noise}, {clustering: int32 [n]
        member ranks}) of the space's map, rows in this space's row order; all empty for versions
        built without maps (member ranks: for versions built before they were stored)."""
        return self._projections.get()

    def clusters(self) -> list[ClusterSummary]:
        """Every clustering's clusters (clusters.parquet); empty for versions built without them."""
        return self._clusters.get()

    def _read_projections(self) -> SpaceProjections:
        from vitrina.indexer.maps import InvalidFieldError, SpaceProjections, read_space_projections

        path = self.paths.projections(self.name)
        if not path.is_file():
            return SpaceProjections([], {}, {}, {})
        maps = read_space_projections(path)
        # Callers index coordinates and labels by space row, so the orders must match.
        if maps.ids != self.ids:
            raise InvalidFieldError("id", "does not list the ids of embeddings.parquet in the same order", path)
        return maps

    def _read_clusters(self) -> list[ClusterSummary]:
        path = self.paths.clusters(self.name)
        if not path.is_file():
            return []
        from vitrina.indexer.maps import read_clusters

        return read_clusters(path)


def _read_neighbours(path: Path, ids: list[str]) -> NeighbourTable | None:
    """The space's precomputed neighbourhoods; None for versions built without them."""
    if not path.is_file():
        return None
    from vitrina.indexer.maps import InvalidFieldError, read_neighbours

    table = read_neighbours(path)
    # Callers index the table by embeddings row (space row == neighbour-table row), so the orders must match.
    if table.ids != ids:
        raise InvalidFieldError("id", "does not list the ids of embeddings.parquet in the same order", path)
    return table


class Bundle:
    def __init__(self, paths: VersionPaths, manifest: Manifest, items: ItemTable, spaces: dict[str, Space]):
        self.paths = paths
        self.manifest = manifest
        self.items = items
        self.spaces = spaces
        self._outliers: _Lazy[list[Outlier]] = _Lazy(self._read_outliers)
        self._label_attributes: _Lazy[list[str]] = _Lazy(self._find_label_attributes)
        self._text_attributions: _Lazy[dict[tuple[str, str], dict[str, Any]]] = _Lazy(self._read_text_attributions)

    def outliers(self) -> list[Outlier]:
        """Every label outlier of every space and attribute (reports/outliers.parquet), ranked
        within each (space, attribute); empty for versions built without the report."""
        return self._outliers.get()

    def label_attributes(self) -> list[str]:
        """The categorical metadata attributes, the ones the build looked for label outliers in."""
        return self._label_attributes.get()

    def text_attribution(self, space: str, item_id: str) -> dict[str, Any] | None:
        """The precomputed word attributions of an item in a text-indexed space (a row of
        attributions/text.parquet), or None when the version has none for it."""
        return self._text_attributions.get().get((space, item_id))

    def _read_text_attributions(self) -> dict[tuple[str, str], dict[str, Any]]:
        from vitrina.indexer.word_attributions import read_text_attributions

        return read_text_attributions(self.paths.text_attributions)

    def _read_outliers(self) -> list[Outlier]:
        if not self.paths.outliers.is_file():
            return []
        from vitrina.indexer.maps import read_outliers

        return read_outliers(self.paths.outliers)

    def _find_label_attributes(self) -> list[str]:
        from vitrina.indexer.attributes import categorical_attributes

        return categorical_attributes(self.items)

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def collection(self) -> str:
        return self.manifest.collection

    @property
    def collection_paths(self) -> CollectionPaths:
        # VersionPaths is <root>/<collection>/versions/<version>.
        return CollectionPaths(self.paths.root.parent.parent)

    @classmethod
    def open(
        cls,
        bundles_root: str | Path,
        collection: str,
        version: str | None = None,
        use_gpu: bool | None = None,
        encoder_factory: Callable[..., Any] | None = None,
    ) -> "Bundle":
        coll = CollectionPaths.of(bundles_root, collection)
        version = version or coll.current()
        if version is None:
            raise BundleNotFoundError(
                f"{coll.root} has no published version (no CURRENT file); build one with `vitrina index build`"
            )
        paths = coll.version(version)
        if not paths.manifest.is_file():
            raise BundleNotFoundError(f"{paths.root}: version {version!r} has no manifest.json")
        manifest = Manifest.read(paths.manifest)
        items = ItemTable(paths.items)
        spaces = {
            name: Space(paths, sm, items, use_gpu=use_gpu, encoder_factory=encoder_factory)
            for name, sm in manifest.spaces.items()
        }
        return cls(paths, manifest, items, spaces)
