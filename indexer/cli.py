"""`vitrina index ...`: build and inspect bundles."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Build, inspect and publish bundles (embeddings, FAISS indexes, manifest).", no_args_is_help=True)

SpaceOpt = Annotated[
    list[str],
    typer.Option(
        "--space",
        help="NAME=ENCODER_SPEC, repeatable. NAME is image, text or joint; ENCODER_SPEC is "
        "builtin:efficientnet-lite0, builtin:minilm-l6, hf:<name or local path> or ckpt:<dir>.",
    ),
]


def _split(values: Optional[list[str]]) -> Optional[list[str]]:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@app.command("build")
def build(
    catalogue: Annotated[str, typer.Option(help="table:<csv|parquet|jsonl>, folder:<dir>, or openclipart[:<root>]")],
    out: Annotated[Path, typer.Option(help="Bundles root folder; the version goes to <out>/<collection>/versions/")],
    collection: Annotated[str, typer.Option(help="Collection name (a folder name)")],
    space: SpaceOpt,
    limit: Annotated[Optional[int], typer.Option(help="Index at most N items (a deterministic spread)")] = None,
    id_column: Annotated[str, typer.Option(help="table: column holding item ids")] = "id",
    title_column: Annotated[Optional[str], typer.Option(help="table: column holding titles")] = None,
    text_columns: Annotated[Optional[list[str]], typer.Option(help="table: columns joined into the item text (repeat or comma-separate)")] = None,
    image_column: Annotated[Optional[str], typer.Option(help="table: column with image paths (absolute or relative to the table)")] = None,
    metadata_columns: Annotated[Optional[list[str]], typer.Option(help="table: metadata columns (default: all others)")] = None,
    list_columns: Annotated[Optional[list[str]], typer.Option(help="table (CSV): columns holding lists separated by --list-separator")] = None,
    list_separator: Annotated[str, typer.Option(help="table (CSV): separator of list values")] = "|",
    index_spec: Annotated[Optional[str], typer.Option(help="Force a FAISS index_factory string (default: chosen by size)")] = None,
    target_recall: Annotated[float, typer.Option(help="Tune search parameters until recall@10 vs exact reaches this")] = 0.95,
    workers: Annotated[int, typer.Option(help="Image decoding worker processes")] = 2,
    batch_size: Annotated[int, typer.Option(help="Encoder batch size")] = 32,
    max_pixels: Annotated[int, typer.Option(help="Skip (and report) images with more pixels than this")] = 40_000_000,
    no_publish: Annotated[bool, typer.Option("--no-publish", help="Write the version under versions/ but leave CURRENT "
                                             "alone; check it with `index shadow`, publish it with `index publish`")] = False,
    parent: Annotated[str, typer.Option(help="The version this one follows: its unchanged items' vectors are reused and "
                                        "the maps follow its maps. 'current', a version name, or 'none'")] = "current",
    keep: Annotated[Optional[int], typer.Option(min=1, help="Afterwards delete all but the newest N versions (never "
                                                "CURRENT, its parent or the previous published one)")] = None,
    skip_unchanged: Annotated[bool, typer.Option("--skip-unchanged", help="Do nothing when CURRENT was built from identical inputs")] = False,
    reuse: Annotated[bool, typer.Option(help="Take vectors of unchanged items from the parent version (same content hash and encoder "
                                        "fingerprint; joint towers from their base encoder's vectors) instead of encoding")] = True,
    neighbours_k: Annotated[int, typer.Option(min=0, help="Precompute each item's N nearest neighbours per space "
                                              "(served without a search; feed the label-outlier report); 0: neither")] = 20,
    projection: Annotated[Optional[list[str]], typer.Option(
        "--projection", metavar="METHOD", help="2-D map method per space, repeatable: umap, pca, tsne, pacmap "
        "(default: umap and pca; t-SNE and PaCMAP are slow at 100k+ items)")] = None,
    clustering: Annotated[Optional[list[str]], typer.Option(
        "--clustering", metavar="METHOD", help="Clustering per space, repeatable: hdbscan, dbscan, kmeans, "
        "agglomerative (default: hdbscan and kmeans)")] = None,
    map_update: Annotated[str, typer.Option(
        help="How a re-index makes its maps when CURRENT has them: 'refit' fits again and aligns onto CURRENT's "
        "map; 'place' keeps CURRENT's coordinates and places only new or changed items with its stored UMAP/PCA "
        "reducer (falls back to refit when over half the items changed)")] = "refit",
    attribution_steps: Annotated[int, typer.Option(min=0, help="Integrated Gradients steps of each item's word "
                                                   "attributions in text-indexed spaces (the map's hover, "
                                                   "attributions/text.parquet); 0: none")] = 20,
    attribution_items: Annotated[Optional[int], typer.Option(min=0, help="Precompute word attributions for at most N "
                                                             "items per space (an even spread; the API explains the "
                                                             "rest on demand); default: all")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Build a new immutable version of a collection and publish it atomically.

    An interrupted build leaves CURRENT untouched; running the same command again
    resumes from the embedding chunks already written. With --no-publish the version
    waits under versions/ for `index shadow` and `index publish`.
    """
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle, resolve_parent
    from vitrina.schemas.bundle_layout import CollectionPaths
    from vitrina.indexer.maps import DEFAULT_CLUSTERINGS, DEFAULT_PROJECTIONS, check_map_methods, check_map_update

    table_options = {}
    if catalogue.startswith("table:"):
        table_options = dict(
            id_column=id_column,
            title_column=title_column,
            text_columns=_split(text_columns),
            image_column=image_column,
            metadata_columns=_split(metadata_columns),
            list_columns=_split(list_columns),
            list_separator=list_separator,
        )
        table_options = {k: v for k, v in table_options.items() if v is not None}
    try:
        requests = [SpaceRequest.parse(s) for s in space]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--space")
    projections = tuple(_split(projection) or DEFAULT_PROJECTIONS)
    clusterings = tuple(_split(clustering) or DEFAULT_CLUSTERINGS)
    try:
        check_map_methods(projections, clusterings)
        check_map_update(map_update)
    except ValueError as exc:
        option, _, message = str(exc).partition(": ")  # messages start with the option they are about
        raise typer.BadParameter(message, param_hint=option)
    try:
        coll = CollectionPaths.of(out, collection)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--collection")
    try:
        resolve_parent(coll, parent)  # now, not after the encoding
    except ValueError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--parent: "), param_hint="--parent")
    options = BuildOptions(
        limit=limit, table_options=table_options, workers=workers, batch_size=batch_size, max_pixels=max_pixels,
        index_spec=index_spec, target_recall=target_recall, progress=progress, publish=not no_publish,
        skip_unchanged=skip_unchanged, reuse_vectors=reuse, neighbours_k=neighbours_k,
        projections=projections, clusterings=clusterings, map_update=map_update,
        attribution_steps=attribution_steps, attribution_items=attribution_items, parent=parent, keep_versions=keep,
    )
    result = build_bundle(catalogue, out, collection, requests, options)
    if result.reused:
        typer.echo(f"CURRENT ({result.version}) was built from identical inputs; nothing to do")
        return
    typer.echo(json.dumps({"version": result.version, "path": str(result.paths.root), "published": result.published,
                           "removed_versions": result.removed_versions, "report": {
        k: v for k, v in result.report.items() if k != "images_skipped"}, "images_skipped": len(result.report["images_skipped"])}, indent=2, default=str))


@app.command("info")
def info(
    bundles: Annotated[Path, typer.Option(help="Bundles root folder")],
    collection: Annotated[str, typer.Option(help="Collection name")],
    version: Annotated[Optional[str], typer.Option(help="Version (default: CURRENT)")] = None,
) -> None:
    """Print a version's manifest."""
    from vitrina.schemas.bundle_layout import CollectionPaths
    from vitrina.schemas import Manifest

    coll = CollectionPaths.of(bundles, collection)
    version = version or coll.current()
    if version is None:
        raise typer.BadParameter(f"{coll.root} has no published version", param_hint="--collection")
    typer.echo(Manifest.read(coll.version(version).manifest).to_json())


def _register_version_commands() -> None:
    from vitrina.indexer.versions.commands import gc_command, publish_command, rollback_command, shadow_command

    app.command("shadow")(shadow_command)
    app.command("publish")(publish_command)
    app.command("rollback")(rollback_command)
    app.command("gc")(gc_command)


_register_version_commands()
