"""`vitrina index build`: catalogue -> encoders -> per space stages -> a published version.

`build_bundle` resolves the inputs (catalogue, encoders, parent version, build key) and hands a
`BuildState` to the stages of `indexer/pipeline/`, which do the work and write the version.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from vitrina.indexer.catalogue import catalogue_fingerprint, collect, open_catalogue
from vitrina.indexer.embed import DEFAULT_MAX_PIXELS, embeddable
from vitrina.indexer.maps import DEFAULT_CLUSTERINGS, DEFAULT_PROJECTIONS, check_map_methods, check_map_update
from vitrina.indexer.pipeline import FINISH_STAGES, SPACE_STAGES, BuildState, SpaceState, run_stages
from vitrina.indexer.versions.changes import content_hashes, item_changes
from vitrina.indexer.versions.retention import check_keep
from vitrina.indexer.word_attributions import DEFAULT_STEPS as DEFAULT_ATTRIBUTION_STEPS
from vitrina.indexer.word_attributions import read_text_attributions
from vitrina.schemas import Manifest, Modality
from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths, check_name

log = logging.getLogger("vitrina.indexer")

# Which modality a space indexes, and which query modalities it answers.
SPACE_ROLES: dict[str, tuple[Modality, tuple[Modality, ...]]] = {
    "image": (Modality.IMAGE, (Modality.IMAGE,)),
    "text": (Modality.TEXT, (Modality.TEXT,)),
    # The joint space stores image vectors only, so text queries rank pictures.
    "joint": (Modality.IMAGE, (Modality.IMAGE, Modality.TEXT)),
}


@dataclass(frozen=True)
class SpaceRequest:
    name: str
    spec: str

    @classmethod
    def parse(cls, value: str) -> "SpaceRequest":
        name, sep, spec = value.partition("=")
        if not sep or not name or not spec:
            raise ValueError(f"--space {value!r}: expected NAME=ENCODER_SPEC, e.g. image=builtin:efficientnet-lite0")
        if name not in SPACE_ROLES:
            raise ValueError(f"--space {value!r}: space name must be one of {', '.join(SPACE_ROLES)}")
        return cls(name, spec)


@dataclass
class BuildOptions:
    limit: int | None = None
    table_options: dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 512
    batch_size: int = 32
    workers: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    index_spec: str | None = None
    target_recall: float = 0.95
    progress: bool = True
    # False: the version is still written whole under versions/ but CURRENT stays where it is,
    # for a shadow check and a later `vitrina index publish`.
    publish: bool = True
    # The version this one follows: vectors of its unchanged items are reused, maps align onto
    # (or are placed into) its maps, attributions are carried over. "current" (CURRENT, if
    # any), a version name, or None for none. Recorded as the manifest's parent.
    parent: str | None = "current"
    # After the build, delete all but the newest N versions (never CURRENT, its parent or
    # the previous published one); None keeps everything.
    keep_versions: int | None = None
    # Return CURRENT instead of building when it came from identical inputs
    # (same catalogue content, encoder fingerprints and options).
    skip_unchanged: bool = False
    # Take vectors of unchanged items from the parent version and from spaces built earlier
    # in this build instead of encoding them again (indexer/reuse.py).
    reuse_vectors: bool = True
    # Neighbours precomputed per item and space (spaces/<space>/neighbours.parquet), which
    # also feed the label-outlier report; 0 writes neither neighbours nor outliers.
    neighbours_k: int = 20
    # 2-D maps per space (spaces/<space>/projections.parquet, seed 0), any of umap, pca, tsne,
    # pacmap; t-SNE and PaCMAP are opt-in because they take many minutes at 100k+ items.
    # UMAP/PCA models are kept (spaces/<space>/reducers/) to place new items without refitting.
    projections: tuple[str, ...] = DEFAULT_PROJECTIONS
    # Clusterings per space, any of hdbscan, dbscan, kmeans, agglomerative: labels beside the
    # map's coordinates, clusters (size, c-TF-IDF name, representatives) in clusters.parquet.
    # Both empty: no maps; clusterings need at least one projection.
    clusterings: tuple[str, ...] = DEFAULT_CLUSTERINGS
    # "refit" or "place": how maps follow a re-index (indexer/maps/placement.py).
    map_update: str = "refit"
    # Integrated Gradients steps of the per-item word attributions of text-indexed spaces
    # (attributions/text.parquet, the map's hover); 0 writes none.
    attribution_steps: int = DEFAULT_ATTRIBUTION_STEPS
    # At most this many items per space get precomputed attributions (an even spread over
    # the ids; None: all). Each costs ~steps forward+backward passes; the API computes the
    # rest on demand.
    attribution_items: int | None = None

    def recorded(self) -> dict[str, Any]:
        """The options a manifest records under build.options."""
        return {"limit": self.limit, "max_pixels": self.max_pixels, "target_recall": self.target_recall,
                "parent": self.parent, "neighbours_k": self.neighbours_k, "projections": list(self.projections),
                "clusterings": list(self.clusterings), "map_update": self.map_update,
                "attribution_steps": self.attribution_steps, "attribution_items": self.attribution_items}


@dataclass
class BuildResult:
    version: str
    paths: VersionPaths
    manifest: Manifest
    report: dict[str, Any]
    reused: bool = False
    published: bool = False
    removed_versions: list[str] = field(default_factory=list)


def resolve_parent(coll: CollectionPaths, choice: str | None) -> str | None:
    """The parent version a build follows: "current" is CURRENT (None before the first publish),
    "none" or None is no parent, anything else a finished version of the collection."""
    if choice is None or choice == "none":
        return None
    if choice == "current":
        return coll.current()
    if not coll.version(choice).manifest.is_file():
        raise ValueError(f"--parent: {choice!r} is not a finished version of {coll.root.name} "
                         f"(have: {', '.join(coll.versions()) or 'none'}; or 'current', 'none')")
    return choice


def _current_if_built_from(coll: CollectionPaths, key: str) -> Manifest | None:
    version = coll.current()
    if version is None:
        return None
    manifest = Manifest.read(coll.version(version).manifest)
    return manifest if manifest.build.get("key") == key else None


def _build_key(fingerprint: str, spaces: list[SpaceRequest], encoders: dict[str, dict], options: BuildOptions) -> str:
    payload = {
        "catalogue": fingerprint,
        "spaces": [(s.name, s.spec, {m.value: e.fingerprint for m, e in encoders[s.name].items()}) for s in spaces],
        "max_pixels": options.max_pixels,
        "chunk_size": options.chunk_size,
        # A version without neighbours (or with fewer) is not what a build asking for them wants.
        "neighbours_k": options.neighbours_k,
        "projections": list(options.projections),
        "clusterings": list(options.clusterings),
        "map_update": options.map_update,
        "attribution_steps": options.attribution_steps,
        "attribution_items": options.attribution_items,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _create_space_encoders(requests: list[SpaceRequest], factory: Callable[..., Any]) -> dict[str, dict[Modality, Any]]:
    cache: dict[tuple[str, Modality], Any] = {}
    encoders: dict[str, dict[Modality, Any]] = {}
    for req in requests:
        _, query_modalities = SPACE_ROLES[req.name]
        encoders[req.name] = {}
        for modality in query_modalities:
            key = (req.spec, modality)
            if key not in cache:
                cache[key] = factory(req.spec, modality=modality)
            encoders[req.name][modality] = cache[key]
    return encoders


def checked_options(spaces: list[SpaceRequest], options: BuildOptions) -> BuildOptions:
    """Every option checked before any work, so a typo fails now and not after an hour of encoding."""
    if not spaces:
        raise ValueError("--space: give at least one space, e.g. --space image=builtin:efficientnet-lite0")
    names = [s.name for s in spaces]
    if len(set(names)) != len(names):
        raise ValueError(f"--space: each space name may appear once, got {names}")
    for option, value in (("--neighbours-k", options.neighbours_k), ("--attribution-steps", options.attribution_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{option}: must be an integer >= 0 (0: none), got {value!r}")
    if options.keep_versions is not None:
        check_keep(options.keep_versions)
    projections, clusterings = check_map_methods(options.projections, options.clusterings)
    check_map_update(options.map_update)
    return dataclasses.replace(options, projections=projections, clusterings=clusterings)


def read_inputs(state: BuildState, spaces: list[SpaceRequest], encoder_factory: Callable[..., Any]) -> None:
    """The catalogue stage and the encoder stage: what the build key is computed from."""
    options = state.options
    with state.timer.stage("catalogue"):
        cat = open_catalogue(state.catalogue, **options.table_options)
        state.items = sorted(collect(cat, limit=options.limit), key=lambda it: it.id)
        state.fingerprint = catalogue_fingerprint(state.items)
        state.catalogue_report = dict(getattr(cat, "report", {}))
    log.info("catalogue read", extra={"items": len(state.items), "catalogue": state.catalogue})
    with state.timer.stage("load_encoders"):
        state.encoders = _create_space_encoders(spaces, encoder_factory)
    state.key = _build_key(state.fingerprint, spaces, state.encoders, options)


def start_staging(state: BuildState) -> None:
    """The staging folder (resumable by key) and what the stages take from the parent version."""
    state.staging = state.coll.staging(state.key)
    state.staging.root.mkdir(parents=True, exist_ok=True)
    state.hashes = {it.id: it.content_hash for it in state.items}
    # Cluster names come from the items' words: their text, or their title when they have none.
    state.words = {it.id: it.text or it.title or None for it in state.items}
    parent = state.parent_paths
    state.report = {"catalogue": state.catalogue_report, "spaces": {},
                    "vs_parent": {"parent": state.parent, **item_changes(
                        content_hashes(parent) if parent else None, state.hashes)}}
    if parent is not None and state.options.attribution_steps > 0:
        state.previous_attributions = read_text_attributions(parent.text_attributions)
    if parent is not None and state.options.reuse_vectors:
        state.pool.add_version(state.coll, state.parent)


def build_bundle(
    catalogue: str,
    out: str | Path,
    collection: str,
    spaces: list[SpaceRequest],
    options: BuildOptions | None = None,
    encoder_factory: Callable[..., Any] | None = None,
) -> BuildResult:
    options = checked_options(spaces, options or BuildOptions())
    if encoder_factory is None:
        from vitrina.training.encoders import create_encoder as encoder_factory
    coll = CollectionPaths.of(out, check_name(collection, "collection"))
    state = BuildState(catalogue, collection, options, coll, parent=resolve_parent(coll, options.parent))
    read_inputs(state, spaces, encoder_factory)
    unchanged = _current_if_built_from(coll, state.key) if options.skip_unchanged else None
    if unchanged is not None:
        log.info("CURRENT was built from identical inputs; not rebuilding", extra={"version": unchanged.version})
        paths = coll.version(unchanged.version)
        return BuildResult(unchanged.version, paths, unchanged, json.loads(paths.build_report.read_text()), reused=True)
    start_staging(state)
    for req in spaces:
        indexed, _ = SPACE_ROLES[req.name]
        encoder = state.encoders[req.name][indexed]
        run_stages(state, SPACE_STAGES, SpaceState(req, indexed, encoder, embeddable(state.items, indexed)))
    run_stages(state, FINISH_STAGES)
    return BuildResult(state.version, state.paths, state.manifest, state.report, published=options.publish,
                       removed_versions=state.removed_versions)
