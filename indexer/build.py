"""`vitrina index build`: catalogue -> encoders -> per space stages -> a published version.

`build_bundle` resolves the inputs (catalogue, encoders, parent version, build key) and hands a
`BuildState` to the stages of `indexer/pipeline/`, which do the work and write the version.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from vitrina.indexer.build_options import SPACE_ROLES, BuildOptions, SpaceRequest, check_spaces
from vitrina.indexer.catalogue import catalogue_fingerprint, collect, open_catalogue
from vitrina.indexer.embed import embeddable
from vitrina.indexer.engines import open_engine
from vitrina.indexer.pipeline import FINISH_STAGES, SPACE_STAGES, BuildState, SpaceState, run_stages
from vitrina.indexer.versions.changes import content_hashes, item_changes
from vitrina.indexer.word_attributions import read_text_attributions
from vitrina.schemas import Manifest, Modality
from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths, check_name
from vitrina.schemas.errors import FieldError

__all__ = ["BuildOptions", "BuildResult", "SpaceRequest", "build_bundle", "resolve_parent"]

log = logging.getLogger("vitrina.indexer")


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
        raise FieldError("parent", f"{choice!r} is not a finished version of {coll.root.name} "
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
        **options.key_payload(),
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
    if parent is not None:
        try:
            state.parent_build = Manifest.read(parent.manifest).build
        except (OSError, ValueError) as exc:  # nothing is taken from a parent that cannot be read
            log.warning("parent manifest unreadable", extra={"version": state.parent, "error": str(exc)})
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
    check_spaces(spaces)
    options = (options or BuildOptions()).checked()
    if encoder_factory is None:
        from vitrina.training.encoders import create_encoder

        # A partial, not a lambda: Ray workers receive the factory pickled, runtime included.
        encoder_factory = functools.partial(create_encoder, runtime=options.runtime)
    coll = CollectionPaths.of(out, check_name(collection, "collection"))
    state = BuildState(catalogue, collection, options, coll, parent=resolve_parent(coll, options.parent))
    read_inputs(state, spaces, encoder_factory)
    unchanged = _current_if_built_from(coll, state.key) if options.skip_unchanged else None
    if unchanged is not None:
        log.info("CURRENT was built from identical inputs; not rebuilding", extra={"version": unchanged.version})
        paths = coll.version(unchanged.version)
        return BuildResult(unchanged.version, paths, unchanged, json.loads(paths.build_report.read_text()), reused=True)
    start_staging(state)
    state.engine = open_engine(options.engine, encoder_factory, address=options.ray_address,
                               actors=options.ray_actors, actor_cpus=options.ray_actor_cpus)
    try:
        for req in spaces:
            indexed, _ = SPACE_ROLES[req.name]
            encoder = state.encoders[req.name][indexed]
            run_stages(state, SPACE_STAGES, SpaceState(req, indexed, encoder, embeddable(state.items, indexed)))
    finally:
        state.engine.close()
    run_stages(state, FINISH_STAGES)
    return BuildResult(state.version, state.paths, state.manifest, state.report, published=options.publish,
                       removed_versions=state.removed_versions)
