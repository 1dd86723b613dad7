"""What the build's stages share: the inputs every stage reads, and each stage's output."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vitrina.indexer.catalogue.base import Item
from vitrina.indexer.engines import LocalEngine
from vitrina.indexer.maps import NeighbourTable
from vitrina.indexer.reuse import VectorPool
from vitrina.indexer.timing import StageTimer
from vitrina.schemas import Modality, SpaceManifest
from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths

if TYPE_CHECKING:
    from vitrina.indexer.build_options import BuildOptions, SpaceRequest


@dataclass
class SpaceState:
    """One space as it passes through the per-space stages."""

    request: "SpaceRequest"
    indexed: Modality
    encoder: Any
    candidates: list[Item]  # the items this space can embed
    # Set by `embed`: the space's rows in id order and their vectors.
    ids: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None
    # Set by `index`.
    index: Any = None
    index_info: Any = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.request.name


@dataclass
class BuildState:
    """Inputs resolved before the first stage, and the outputs that outlive one space."""

    catalogue: str
    collection: str
    options: "BuildOptions"
    coll: CollectionPaths
    parent: str | None  # resolved once: a CURRENT that moves during the build does not change it
    timer: StageTimer = field(default_factory=StageTimer)
    # Where the embed stage's chunks are encoded (indexer.engines); closed when the build ends.
    engine: Any = field(default_factory=LocalEngine)
    # Set by the catalogue and encoder stages.
    catalogue_report: dict[str, Any] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # id -> content hash
    words: dict[str, str | None] = field(default_factory=dict)  # id -> what names its cluster
    fingerprint: str = ""
    encoders: dict[str, dict[Modality, Any]] = field(default_factory=dict)
    key: str = ""
    staging: VersionPaths | None = None
    # Shared by the per-space stages: vectors to reuse, the parent's word attributions.
    pool: VectorPool = field(default_factory=VectorPool)
    previous_attributions: dict[str, Any] = field(default_factory=dict)
    parent_build: dict[str, Any] = field(default_factory=dict)  # the parent manifest's build section
    report: dict[str, Any] = field(default_factory=dict)
    space_manifests: dict[str, SpaceManifest] = field(default_factory=dict)
    image_problems: dict[str, str] = field(default_factory=dict)
    neighbourhoods: dict[str, NeighbourTable] = field(default_factory=dict)
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    attribution_rows: list[dict[str, Any]] = field(default_factory=list)
    # Set by the last stages.
    version: str = ""
    manifest: Any = None
    paths: VersionPaths | None = None
    removed_versions: list[str] = field(default_factory=list)

    @property
    def parent_paths(self) -> VersionPaths | None:
        return self.coll.version(self.parent) if self.parent is not None else None
