"""The stages every space goes through, in order: embed, index, neighbours, maps, attributions.

Each reads what the stages before it left on the `SpaceState` and adds its own output, and its
part of the space's build report, in the report's order.
"""
from __future__ import annotations

import logging
import shutil
import time

from vitrina.indexer.bundle.chunks import ChunkStore, vectors_to_table
from vitrina.indexer.embed import EmbedSettings, embed_items, encoded_text
from vitrina.indexer.maps import build_space_maps, compute_neighbourhoods, neighbours_table, write_neighbours
from vitrina.indexer.maps.unchanged import maps_inputs, reuse_parent_maps
from vitrina.indexer.pipeline.state import BuildState, SpaceState
from vitrina.indexer.reuse import merge_in_order
from vitrina.indexer.word_attributions import attribute_space, completeness_error, spread
from vitrina.schemas import Modality, SpaceManifest
from vitrina.schemas.bundle_files import write_parquet_atomic, write_vectors_atomic
from vitrina.training.explain.errors import ExplainError

log = logging.getLogger("vitrina.indexer")


def embed(state: BuildState, space: SpaceState) -> None:
    """Vectors of the space's candidates: reused (parent version, earlier spaces) or encoded."""
    options, encoder = state.options, space.encoder
    reused = state.pool.take(encoder, space.candidates)
    taken = set(reused.ids)
    # Encoded chunks land in the collection's chunk folder first, so an interrupted build resumes
    # them even when rerun with other options.
    store = ChunkStore(state.coll.chunks(encoder.fingerprint), encoder.dim, encoder.fingerprint)
    settings = EmbedSettings(batch_size=options.batch_size, workers=options.workers, max_pixels=options.max_pixels)
    result = embed_items(
        [it for it in space.candidates if it.id not in taken], encoder, store, chunk_size=options.chunk_size,
        settings=settings, progress=options.progress, desc=f"embed {space.name}", engine=state.engine,
    )
    ids, vectors = merge_in_order(space.candidates, [(reused.ids, reused.vectors), (result.ids, result.vectors)],
                                  encoder.dim)
    if reused.ids:
        log.info("vectors reused", extra={"space": space.name, "stored": reused.stored, "projected": reused.projected,
                                          "encoded": len(result.ids)})
    if space.indexed is Modality.IMAGE:
        state.image_problems.update(result.skipped)
    if len(ids) == 0:
        raise ValueError(f"space {space.name!r}: no item could be encoded ({len(space.candidates)} candidates)")
    state.pool.add(encoder.fingerprint, ids, vectors, state.hashes)
    write_parquet_atomic(vectors_to_table(ids, vectors, encoder.fingerprint, encoder.dim),
                         state.staging.embeddings(space.name))
    write_vectors_atomic(vectors, state.staging.vectors(space.name))
    space.ids, space.vectors = ids, vectors
    space.report.update({
        "candidates": len(space.candidates),
        "rows": len(ids),
        "skipped": len(result.skipped),
        "vectors_reused": reused.stored,
        "vectors_projected": reused.projected,
        "vectors_encoded": len(result.ids),
        "chunks_reused": result.chunks_reused,
        "chunks_encoded": result.chunks_encoded,
        "engine": state.engine.name,
    })


def index(state: BuildState, space: SpaceState) -> None:
    from vitrina.indexer.index import build_index

    options = state.options
    budget = None if options.index_memory is None else int(options.index_memory * 2**30)
    space.index, space.index_info = build_index(space.vectors, spec=options.index_spec,
                                                target_recall=options.target_recall, progress=options.progress,
                                                memory_budget_bytes=budget)
    space.index.save(state.staging.index(space.name))
    space.report.update({"index": space.index_info.factory, "recall_at_10": space.index_info.recall_at_10,
                         "neighbours_k": options.neighbours_k})


def neighbours(state: BuildState, space: SpaceState) -> None:
    # Through the index just built, so a served lookup equals a live search of this version.
    table = compute_neighbourhoods(space.index, space.vectors, space.ids, k=state.options.neighbours_k,
                                   progress=state.options.progress)
    write_neighbours(neighbours_table(table, space.ids), state.staging.neighbours(space.name))
    state.neighbourhoods[space.name] = table


def maps(state: BuildState, space: SpaceState) -> None:
    """The space's maps: the parent's when computed from the same inputs, else fitted (aligned onto it)."""
    options = state.options
    parent = (state.parent, state.parent_paths) if state.parent is not None else None
    texts = [state.words[i] for i in space.ids]
    inputs = maps_inputs(space.ids, space.vectors, texts, options.projections, options.clusterings)
    report = reuse_parent_maps(inputs, parent, state.parent_build.get("maps", {}).get(space.name),
                               state.staging, space.name)
    if report is None:
        report = build_space_maps(space.vectors, space.ids, texts, state.staging, space.name, options.projections,
                                  options.clusterings, parent=parent, update=options.map_update,
                                  progress=options.progress)
        report["inputs"] = inputs
    state.maps[space.name] = space.report["maps"] = report


def attributions(state: BuildState, space: SpaceState) -> None:
    """Word attributions of the space's texts (the map's hover), for an even spread of its items."""
    options = state.options
    by_id = {it.id: it for it in space.candidates}
    chosen = spread(space.ids, options.attribution_items)
    summary = state.report.setdefault("attributions", {})
    started = time.perf_counter()
    try:
        rows, counts = attribute_space(
            space.name, chosen, [encoded_text(by_id[i]) for i in chosen], space.encoder,
            options.attribution_steps, state.previous_attributions, options.progress,
            method=options.attribution_method,
        )
    except ExplainError as exc:  # an encoder without a differentiable path (not torch)
        log.warning("no word attributions", extra={"space": space.name, "reason": str(exc)})
        summary[space.name] = {"skipped": str(exc)}
        return
    seconds = time.perf_counter() - started
    state.attribution_rows += rows
    summary[space.name] = {
        **counts, "not_precomputed": len(space.ids) - len(chosen), "method": options.attribution_method,
        "steps": rows[0]["n_steps"] if rows else None, "max_completeness_error": completeness_error(rows),
        "seconds": round(seconds, 3),
        "items_per_second": round(counts["computed"] / seconds, 2) if counts["computed"] and seconds > 0 else None,
    }


def record(state: BuildState, space: SpaceState) -> None:
    """The space's manifest entry and report; its encoded chunks are no longer needed."""
    state.space_manifests[space.name] = SpaceManifest(
        name=space.name,
        indexed_modality=space.indexed,
        encoders={m: e.info() for m, e in state.encoders[space.name].items()},
        dim=space.encoder.dim,
        rows=len(space.ids),
        index=space.index_info,
    )
    state.report["spaces"][space.name] = space.report
    shutil.rmtree(state.coll.chunks(space.encoder.fingerprint), ignore_errors=True)
