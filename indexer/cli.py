"""`vitrina index ...`: build and inspect bundles."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitrina.indexer.build_options import BuildOptions, SpaceRequest, check_spaces
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.schemas.errors import FieldError

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


_DEFAULT = BuildOptions()
_HELP = BuildOptions.help


@app.command("build")
def build(
    catalogue: Annotated[str, typer.Option(help="table:<csv|parquet|jsonl>, folder:<dir>, or openclipart[:<root>]")],
    out: Annotated[Path, typer.Option(help="Bundles root folder; the version goes to <out>/<collection>/versions/")],
    collection: Annotated[str, typer.Option(help="Collection name (a folder name)")],
    space: SpaceOpt,
    limit: Annotated[Optional[int], typer.Option(help=_HELP("limit"))] = _DEFAULT.limit,
    id_column: Annotated[str, typer.Option(help="table: column holding item ids")] = "id",
    title_column: Annotated[Optional[str], typer.Option(help="table: column holding titles")] = None,
    text_columns: Annotated[Optional[list[str]], typer.Option(help="table: columns joined into the item text (repeat or comma-separate)")] = None,
    image_column: Annotated[Optional[str], typer.Option(help="table: column with image paths (absolute or relative to the table)")] = None,
    metadata_columns: Annotated[Optional[list[str]], typer.Option(help="table: metadata columns (default: all others)")] = None,
    list_columns: Annotated[Optional[list[str]], typer.Option(help="table (CSV): columns holding lists separated by --list-separator")] = None,
    list_separator: Annotated[str, typer.Option(help="table (CSV): separator of list values")] = "|",
    index_spec: Annotated[Optional[str], typer.Option(help=_HELP("index_spec"))] = _DEFAULT.index_spec,
    index_memory: Annotated[Optional[float], typer.Option(help=_HELP("index_memory"))] = _DEFAULT.index_memory,
    target_recall: Annotated[float, typer.Option(help=_HELP("target_recall"))] = _DEFAULT.target_recall,
    workers: Annotated[int, typer.Option(help=_HELP("workers"))] = _DEFAULT.workers,
    batch_size: Annotated[int, typer.Option(help=_HELP("batch_size"))] = _DEFAULT.batch_size,
    chunk_size: Annotated[int, typer.Option(min=1, help=_HELP("chunk_size"))] = _DEFAULT.chunk_size,
    engine: Annotated[str, typer.Option(help=_HELP("engine"))] = _DEFAULT.engine,
    runtime: Annotated[str, typer.Option(help=_HELP("runtime"))] = _DEFAULT.runtime,
    ray_address: Annotated[Optional[str], typer.Option(help=_HELP("ray_address"))] = _DEFAULT.ray_address,
    ray_actors: Annotated[int, typer.Option(help=_HELP("ray_actors"))] = _DEFAULT.ray_actors,
    ray_actor_cpus: Annotated[Optional[int], typer.Option(help=_HELP("ray_actor_cpus"))] = _DEFAULT.ray_actor_cpus,
    max_pixels: Annotated[int, typer.Option(help=_HELP("max_pixels"))] = _DEFAULT.max_pixels,
    no_publish: Annotated[bool, typer.Option("--no-publish", help=_HELP("publish"))] = not _DEFAULT.publish,
    parent: Annotated[str, typer.Option(help=_HELP("parent"))] = _DEFAULT.parent,
    keep: Annotated[Optional[int], typer.Option(min=1, help=_HELP("keep_versions"))] = _DEFAULT.keep_versions,
    skip_unchanged: Annotated[bool, typer.Option("--skip-unchanged", help=_HELP("skip_unchanged"))] = _DEFAULT.skip_unchanged,
    reuse: Annotated[bool, typer.Option(help=_HELP("reuse_vectors"))] = _DEFAULT.reuse_vectors,
    neighbours_k: Annotated[int, typer.Option(min=0, help=_HELP("neighbours_k"))] = _DEFAULT.neighbours_k,
    projection: Annotated[Optional[list[str]], typer.Option(
        "--projection", metavar="METHOD", help=_HELP("projections"))] = None,
    clustering: Annotated[Optional[list[str]], typer.Option(
        "--clustering", metavar="METHOD", help=_HELP("clusterings"))] = None,
    map_update: Annotated[str, typer.Option(help=_HELP("map_update"))] = _DEFAULT.map_update,
    attribution_method: Annotated[str, typer.Option(help=_HELP("attribution_method"))] = _DEFAULT.attribution_method,
    attribution_steps: Annotated[int, typer.Option(min=0, help=_HELP("attribution_steps"))] = _DEFAULT.attribution_steps,
    attribution_items: Annotated[Optional[int], typer.Option(min=0, help=_HELP("attribution_items"))] = _DEFAULT.attribution_items,
    progress: Annotated[bool, typer.Option(help=_HELP("progress"))] = _DEFAULT.progress,
) -> None:
    """Build a new immutable version of a collection and publish it atomically.

    An interrupted build leaves CURRENT untouched; running the same command again
    resumes from the embedding chunks already written. With --no-publish the version
    waits under versions/ for `index shadow` and `index publish`.
    """
    from vitrina.indexer.build import build_bundle, resolve_parent

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
    options = BuildOptions(
        limit=limit, table_options=table_options, workers=workers, batch_size=batch_size, chunk_size=chunk_size,
        max_pixels=max_pixels,
        engine=engine, runtime=runtime, ray_address=ray_address, ray_actors=ray_actors, ray_actor_cpus=ray_actor_cpus,
        index_spec=index_spec, index_memory=index_memory, target_recall=target_recall, progress=progress, publish=not no_publish,
        skip_unchanged=skip_unchanged, reuse_vectors=reuse, neighbours_k=neighbours_k,
        projections=tuple(_split(projection) or _DEFAULT.projections),
        clusterings=tuple(_split(clustering) or _DEFAULT.clusterings), map_update=map_update,
        attribution_method=attribution_method, attribution_steps=attribution_steps,
        attribution_items=attribution_items, parent=parent, keep_versions=keep,
    )
    try:
        coll = CollectionPaths.of(out, collection)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--collection")
    # Everything is checked now, not after an hour of encoding; the library names fields, we name flags.
    try:
        requests = [SpaceRequest.parse(s) for s in space]
        check_spaces(requests)
        options.checked()
        resolve_parent(coll, parent)
    except FieldError as exc:
        raise typer.BadParameter(exc.problem, param_hint=BuildOptions.flag(exc.field))
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
