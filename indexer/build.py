"""`vitrina index build`: catalogue -> encoders -> embeddings + indexes -> published version."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import platform
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from vitrina.indexer.attributes import categorical_attributes, labels_of
from vitrina.indexer.bundle.chunks import ChunkStore, vectors_to_table
from vitrina.indexer.bundle.layout import CollectionPaths, VersionPaths, check_name, write_atomic
from vitrina.indexer.bundle.reader import ItemTable
from vitrina.indexer.bundle.writer import items_to_table, place, publish, write_manifest, write_parquet_atomic
from vitrina.indexer.catalogue import catalogue_fingerprint, collect, open_catalogue
from vitrina.indexer.catalogue.base import Item
from vitrina.indexer.embed import DEFAULT_MAX_PIXELS, embed_items, embeddable
from vitrina.indexer.maps import (
    DEFAULT_CLUSTERINGS,
    DEFAULT_PROJECTIONS,
    NeighbourTable,
    Outlier,
    build_space_maps,
    check_map_methods,
    check_map_update,
    compute_neighbourhoods,
    find_label_outliers,
    neighbours_table,
    outliers_table,
    write_neighbours,
    write_outliers,
)
from vitrina.indexer.reuse import VectorPool, merge_in_order
from vitrina.indexer.versions.changes import content_hashes, item_changes
from vitrina.indexer.versions.retention import check_keep, collect_garbage
from vitrina.training.explain.errors import ExplainError
from vitrina.indexer.word_attributions import DEFAULT_STEPS as DEFAULT_ATTRIBUTION_STEPS
from vitrina.indexer.word_attributions import (
    attribute_space,
    completeness_error,
    spread,
    read_text_attributions,
    write_text_attributions,
)
from vitrina.indexer.timing import StageTimer
from vitrina.schemas import Manifest, Modality, SpaceManifest
from vitrina.schemas.manifest import CatalogueInfo

log = logging.getLogger("vitrina.indexer")

# Label outliers: an item is one when at least this share of its first k labelled
# neighbours carries one other label (7 of 10).
OUTLIER_K = 10
OUTLIER_MIN_AGREEMENT = 0.7

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


def _library_versions() -> dict[str, str]:
    import faiss
    import pyarrow
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "pyarrow": pyarrow.__version__,
    }


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


def _label_outliers(
    items: ItemTable, neighbourhoods: dict[str, NeighbourTable], progress: bool
) -> tuple[list[Outlier], dict[str, dict[str, int]]]:
    """Outliers of every categorical attribute in every space with neighbourhoods, and
    how many per space and attribute (zeros included, so the report shows what was checked)."""
    attributes = categorical_attributes(items)
    found: list[Outlier] = []
    counts: dict[str, dict[str, int]] = {}
    total = len(neighbourhoods) * len(attributes)
    with tqdm(total=total, desc="outliers", unit="attribute", disable=not progress) as bar:
        for space, table in neighbourhoods.items():
            counts[space] = {}
            for attribute in attributes:
                outliers = find_label_outliers(
                    table.rows, labels_of(items, table.ids, attribute), table.ids, space=space, attribute=attribute,
                    k=OUTLIER_K, min_agreement=OUTLIER_MIN_AGREEMENT,
                )
                found += outliers
                counts[space][attribute] = len(outliers)
                bar.update()
    return found, counts


def build_bundle(
    catalogue: str,
    out: str | Path,
    collection: str,
    spaces: list[SpaceRequest],
    options: BuildOptions | None = None,
    encoder_factory: Callable[..., Any] | None = None,
) -> BuildResult:
    options = options or BuildOptions()
    if not spaces:
        raise ValueError("--space: give at least one space, e.g. --space image=builtin:efficientnet-lite0")
    names = [s.name for s in spaces]
    if len(set(names)) != len(names):
        raise ValueError(f"--space: each space name may appear once, got {names}")
    for option, value in (("--neighbours-k", options.neighbours_k), ("--attribution-steps", options.attribution_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{option}: must be an integer >= 0 (0: none), got {value!r}")
    if options.keep_versions is not None:
        check_keep(options.keep_versions)  # now, not after an hour of encoding
    projections, clusterings = check_map_methods(options.projections, options.clusterings)
    check_map_update(options.map_update)
    options = dataclasses.replace(options, projections=projections, clusterings=clusterings)
    if encoder_factory is None:
        from vitrina.training.encoders import create_encoder as encoder_factory
    coll = CollectionPaths.of(out, check_name(collection, "collection"))
    # Resolved once, before any work: a CURRENT that moves during the build does not change it.
    parent = resolve_parent(coll, options.parent)
    timer = StageTimer()

    with timer.stage("catalogue"):
        cat = open_catalogue(catalogue, **options.table_options)
        items: list[Item] = sorted(collect(cat, limit=options.limit), key=lambda it: it.id)
        fingerprint = catalogue_fingerprint(items)
    log.info("catalogue read", extra={"items": len(items), "catalogue": catalogue})

    with timer.stage("load_encoders"):
        encoders = _create_space_encoders(spaces, encoder_factory)

    key = _build_key(fingerprint, spaces, encoders, options)
    unchanged = _current_if_built_from(coll, key) if options.skip_unchanged else None
    if unchanged is not None:
        log.info("CURRENT was built from identical inputs; not rebuilding", extra={"version": unchanged.version})
        paths = coll.version(unchanged.version)
        return BuildResult(unchanged.version, paths, unchanged, json.loads(paths.build_report.read_text()), reused=True)
    staging = coll.staging(key)
    staging.root.mkdir(parents=True, exist_ok=True)
    hashes = {it.id: it.content_hash for it in items}
    report: dict[str, Any] = {"catalogue": dict(getattr(cat, "report", {})), "spaces": {},
                              "vs_parent": {"parent": parent, **item_changes(
                                  content_hashes(coll.version(parent)) if parent else None, hashes)}}
    space_manifests: dict[str, SpaceManifest] = {}
    image_problems: dict[str, str] = {}
    neighbourhoods: dict[str, NeighbourTable] = {}
    maps: dict[str, dict[str, Any]] = {}
    parent_maps = (parent, coll.version(parent)) if parent is not None else None
    # Cluster names come from the items' words: their text, or their title when they have none.
    words = {it.id: it.text or it.title or None for it in items}

    attribution_rows: list[dict[str, Any]] = []
    reuse_attributions = parent is not None and options.attribution_steps > 0
    previous_attributions = read_text_attributions(coll.version(parent).text_attributions) if reuse_attributions else {}

    pool = VectorPool()
    if options.reuse_vectors and parent is not None:
        pool.add_version(coll, parent)

    for req in spaces:
        indexed, _ = SPACE_ROLES[req.name]
        encoder = encoders[req.name][indexed]
        todo = embeddable(items, indexed)
        with timer.stage(f"embed:{req.name}"):
            reused = pool.take(encoder, todo)
            taken = set(reused.ids)
            store = ChunkStore(staging.chunks(req.name), encoder.dim, encoder.fingerprint)
            result = embed_items(
                [it for it in todo if it.id not in taken], encoder, store,
                chunk_size=options.chunk_size, batch_size=options.batch_size, workers=options.workers,
                max_pixels=options.max_pixels, progress=options.progress, desc=f"embed {req.name}",
            )
        ids, vectors = merge_in_order(todo, [(reused.ids, reused.vectors), (result.ids, result.vectors)], encoder.dim)
        if reused.ids:
            log.info("vectors reused", extra={"space": req.name, "stored": reused.stored, "projected": reused.projected,
                                              "encoded": len(result.ids)})
        if indexed is Modality.IMAGE:
            image_problems.update(result.skipped)
        if len(ids) == 0:
            raise ValueError(f"space {req.name!r}: no item could be encoded ({len(todo)} candidates)")
        pool.add(encoder.fingerprint, ids, vectors, hashes)
        write_parquet_atomic(vectors_to_table(ids, vectors, encoder.fingerprint, encoder.dim), staging.embeddings(req.name))
        with timer.stage(f"index:{req.name}"):
            from vitrina.indexer.index import build_index

            index, info = build_index(vectors, spec=options.index_spec, target_recall=options.target_recall, progress=options.progress)
            index.save(staging.index(req.name))
        if options.neighbours_k:
            with timer.stage(f"neighbours:{req.name}"):
                # Through the index just built, so a served lookup equals a live search of this version.
                table = compute_neighbourhoods(index, vectors, ids, k=options.neighbours_k, progress=options.progress)
                write_neighbours(neighbours_table(table, ids), staging.neighbours(req.name))
            neighbourhoods[req.name] = table
        if options.projections:
            with timer.stage(f"maps:{req.name}"):
                maps[req.name] = build_space_maps(
                    vectors, ids, [words[i] for i in ids], staging, req.name,
                    options.projections, options.clusterings, parent=parent_maps, update=options.map_update,
                )
        if indexed is Modality.TEXT and options.attribution_steps:
            with timer.stage(f"attributions:{req.name}"):
                by_id = {it.id: it for it in todo}
                chosen = spread(ids, options.attribution_items)
                try:
                    rows, counts = attribute_space(
                        req.name, chosen, [by_id[i].text or by_id[i].title for i in chosen], encoder,
                        options.attribution_steps, previous_attributions, options.progress,
                    )
                except ExplainError as exc:  # an encoder without a differentiable path (not torch)
                    log.warning("no word attributions", extra={"space": req.name, "reason": str(exc)})
                    report.setdefault("attributions", {})[req.name] = {"skipped": str(exc)}
                else:
                    attribution_rows += rows
                    report.setdefault("attributions", {})[req.name] = {
                        **counts, "not_precomputed": len(ids) - len(chosen), "steps": options.attribution_steps,
                        "max_completeness_error": completeness_error(rows)}
        space_manifests[req.name] = SpaceManifest(
            name=req.name,
            indexed_modality=indexed,
            encoders={m: e.info() for m, e in encoders[req.name].items()},
            dim=encoder.dim,
            rows=len(ids),
            index=info,
        )
        report["spaces"][req.name] = {
            "candidates": len(todo),
            "rows": len(ids),
            "skipped": len(result.skipped),
            "vectors_reused": reused.stored,
            "vectors_projected": reused.projected,
            "vectors_encoded": len(result.ids),
            "chunks_reused": result.chunks_reused,
            "chunks_encoded": result.chunks_encoded,
            "index": info.factory,
            "recall_at_10": info.recall_at_10,
            "neighbours_k": options.neighbours_k,
        }
        if req.name in maps:
            report["spaces"][req.name]["maps"] = maps[req.name]
        shutil.rmtree(staging.chunks(req.name), ignore_errors=True)

    # Images that failed to decode are marked on the item, so the API knows not to serve them.
    for it in items:
        if it.id in image_problems:
            it.image_status = image_problems[it.id]
    report["images_skipped"] = dict(sorted(image_problems.items()))
    report["images_missing"] = sum(1 for it in items if it.image_status == "missing")

    with timer.stage("write"):
        write_parquet_atomic(items_to_table(items), staging.items)
        if attribution_rows:
            write_text_attributions(attribution_rows, staging.text_attributions)
    with timer.stage("outliers"):
        # Labels come from the staged items.parquet, decoded as a reader will, so the
        # attributes checked are exactly the ones the API later accepts.
        outliers, report["outliers"] = _label_outliers(ItemTable(staging.items), neighbourhoods, options.progress)
        # Always written, possibly empty (nothing found, or neighbours_k=0), so readers need no
        # version check; only versions built before this report lack the file.
        write_outliers(outliers_table(outliers), staging.outliers)
    report["timings_s"] = timer.seconds

    with timer.stage("write"):
        write_atomic(staging.build_report, json.dumps(report, indent=2, default=str))
        version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + key[:6]
        manifest = Manifest(
            collection=collection,
            version=version,
            parent=parent,
            created_at=datetime.now(timezone.utc),
            catalogue=CatalogueInfo(spec=catalogue, fingerprint=fingerprint, items=len(items), report=report["catalogue"]),
            spaces=space_manifests,
            build={"key": key, "libraries": _library_versions(), "timings_s": timer.seconds, "options": {
                "limit": options.limit, "max_pixels": options.max_pixels, "target_recall": options.target_recall,
                "parent": options.parent,
                "neighbours_k": options.neighbours_k, "projections": list(options.projections),
                "clusterings": list(options.clusterings), "map_update": options.map_update,
                "attribution_steps": options.attribution_steps,
                "attribution_items": options.attribution_items}, "maps": maps},
        )
        write_manifest(staging, manifest)

    # Either way the version lands whole under versions/; only publishing moves CURRENT.
    paths = (publish if options.publish else place)(coll, staging, version)
    removed = collect_garbage(coll, options.keep_versions, also_keep={version}) if options.keep_versions else []
    log.info("build finished", extra={"version": version, "published": options.publish, "parent": parent})
    return BuildResult(version, paths, manifest, report, published=options.publish, removed_versions=removed)
