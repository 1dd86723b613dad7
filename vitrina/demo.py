"""`vitrina demo`: index the openclipart collection, train its joint space, evaluate it and serve it."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

log = logging.getLogger("vitrina.demo")

IMAGE_SPEC = "builtin:efficientnet-lite0"
TEXT_SPEC = "builtin:minilm-l6"
DEMO_SPACES = [f"image={IMAGE_SPEC}", f"text={TEXT_SPEC}"]
# The first version a serving demo publishes has PCA maps and no precomputed hover words, so the
# map and the API answer minutes sooner (UMAP's first fit in a process spends over a minute
# compiling, several on a machine that never ran it). The background build then publishes
# a version with the UMAP maps and the words, and then the one with the joint space.
QUICK_PROJECTIONS = ("pca",)
# How often the demo's server looks for the version a background build publishes.
BACKGROUND_WATCH_S = 5.0
# Precomputed hover attributions for the build's default 1,000 of the 8,121 texts: 2-step
# Integrated Gradients explains 20-30 openclipart texts/s on 2 cores, so under a minute; every
# other item is explained on demand (and then cached).
DEMO_ATTRIBUTION_ITEMS = 1000  # indexer.build_options.DEFAULT_ATTRIBUTION_ITEMS, not imported: the CLI starts faster


def _usable_checkpoint(path: Path) -> bool:
    """A joint checkpoint whose heads were trained on today's base encoders."""
    from vitrina.training.encoders import create_encoder
    from vitrina.training.encoders.errors import EncoderSpecError

    if not (path / "vitrina_ckpt.json").is_file():
        return False
    try:
        create_encoder(f"ckpt:{path}", modality="text")
    except EncoderSpecError as exc:
        log.warning("joint checkpoint unusable; training it again", extra={"checkpoint": str(path), "reason": str(exc)})
        return False
    return True


def demo(
    bundles: Annotated[Path, typer.Option(help="Bundles root folder")] = Path("bundles"),
    collection: Annotated[str, typer.Option(help="Collection name")] = "openclipart",
    openclipart_root: Annotated[Path, typer.Option(help="Where Debian's openclipart-png/-svg live")] = Path("/usr/share/openclipart"),
    limit: Annotated[Optional[int], typer.Option(help="Index only N items (a quick demo); default: all 8,121")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="Joint-space checkpoint folder (default: checkpoints/<collection>-joint[-<limit>])")] = None,
    joint: Annotated[bool, typer.Option(help="Train the joint text<->image space and index it as `joint`")] = True,
    retrain: Annotated[bool, typer.Option(help="Train the joint space again even if its checkpoint is usable")] = False,
    evaluate: Annotated[bool, typer.Option("--eval/--no-eval", help="Write reports/eval.json into the version")] = True,
    rebuild: Annotated[bool, typer.Option(help="Build a new version even if CURRENT matches")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="REST port")] = 8080,
    grpc_port: Annotated[int, typer.Option(help="gRPC port (0: no gRPC)")] = 50051,
    attribution_items: Annotated[int, typer.Option(
        help="Items whose word attributions (the map's hover) are precomputed per text space; the API explains "
        "the others on demand. Each costs 2 forward+backward passes of MiniLM")] = DEMO_ATTRIBUTION_ITEMS,
    runtime: Annotated[str, typer.Option(
        help="What runs the encoders, in the build and for queries: onnx (ONNX Runtime, the same vectors several "
        "times faster on CPU) or torch")] = "onnx",
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the bundle once built")] = True,
) -> None:
    """Build the openclipart bundle and serve it.

    Spaces: `image` (EfficientNet-Lite0), `text` (MiniLM-L6) and `joint`, a text<->image
    space trained on the collection's own (picture, title) pairs by `vitrina train align`,
    whose index holds pictures only, so text queries rank pictures by what they show.
    Re-running reuses the published version, the checkpoint and every stored vector
    whose inputs are unchanged.
    """
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    catalogue = f"openclipart:{openclipart_root}"
    if not (openclipart_root / "png").is_dir():
        raise typer.BadParameter(
            f"{openclipart_root}/png not found: install Debian's openclipart-png and openclipart-svg "
            "(`apt-get install openclipart-png openclipart-svg`, done by `make demo`)",
            param_hint="--openclipart-root",
        )
    checkpoint = (checkpoint or Path("checkpoints") / (f"{collection}-joint" + (f"-{limit}" if limit else ""))).resolve()

    def build(spaces: list[str], quick: bool = False):
        options = BuildOptions(limit=limit, skip_unchanged=not rebuild, attribution_items=attribution_items,
                               runtime=runtime)
        if quick:
            options.projections, options.attribution_items = QUICK_PROJECTIONS, 0
        result = build_bundle(catalogue, bundles, collection, [SpaceRequest.parse(s) for s in spaces], options)
        if result.reused:
            typer.echo(f"{collection}: CURRENT ({result.version}) was built from the same inputs; not rebuilding (--rebuild forces)")
        else:
            typer.echo(f"published {collection} version {result.version}: {result.report['spaces']}")
        return result

    spaces = list(DEMO_SPACES)
    background = None
    if joint:
        if retrain or not _usable_checkpoint(checkpoint):
            # The frozen features align trains on are this version's vectors. When the demo serves,
            # this first version is the quick one (see QUICK_PROJECTIONS).
            build(spaces, quick=serve_after)
            if serve_after:
                # The map and the API answer now; the joint space follows in a version of its own,
                # which the server picks up when it is published.
                background = _finish_in_background(
                    bundles, collection, checkpoint, openclipart_root=openclipart_root, limit=limit,
                    retrain=retrain, eval=evaluate, attribution_items=attribution_items, runtime=runtime)
            else:
                _train_joint(bundles / collection, checkpoint)
        spaces.append(f"joint=ckpt:{checkpoint}")
    if background is None:
        result = build(spaces)
        if evaluate and not (result.paths.root / "reports" / "eval.json").is_file():
            _evaluate(bundles, collection, result.version)
    if serve_after:
        from vitrina.search_api.cli import serve

        typer.echo(f"serving on http://{host}:{port}  (try: curl '{host}:{port}/v1/bundle')"
                   + (f" and gRPC on {host}:{grpc_port}" if grpc_port else ""))
        try:
            serve(bundles=bundles, collection=collection, host=host, port=port, grpc_port=grpc_port or None,
                  runtime=runtime, watch_current=BACKGROUND_WATCH_S if background else None)
        finally:
            if background is not None and background.poll() is None:
                # A killed build leaves CURRENT as it was; the next `make demo` resumes it.
                background.terminate()


def _finish_in_background(bundles: Path, collection: str, checkpoint: Path, **options: Any) -> subprocess.Popen:
    """`vitrina demo --no-serve` with the same options, as a child process: with the first version
    published it trains the joint space, builds and publishes the version holding it, and evaluates it."""
    argv = [str(Path(sys.executable).with_name("vitrina")), "demo", "--no-serve", "--bundles", str(bundles),
            "--collection", collection, "--checkpoint", str(checkpoint)]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            argv += [flag, str(value)]
    log_path = bundles / collection / "demo-background.log"
    typer.echo(f"training the joint space and indexing it in the background (log: {log_path}); "
               "the server serves that version as soon as it is published")
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _train_joint(bundle: Path, checkpoint: Path) -> None:
    from vitrina.training.cli import format_summary
    from vitrina.training.recipes.align import AlignConfig, train_align

    typer.echo(f"training the joint space on {bundle} -> {checkpoint}")
    result = train_align(bundle, checkpoint, IMAGE_SPEC, TEXT_SPEC, AlignConfig())
    typer.echo(format_summary(result.report))


def _evaluate(bundles: Path, collection: str, version: str) -> None:
    from rich.console import Console

    from vitrina.indexer.cli_eval import report_tables
    from vitrina.indexer.evaluate import EvalOptions, run_eval

    report, path = run_eval(bundles, collection, version, EvalOptions())
    console = Console()
    for table in report_tables(report):
        console.print(table)
    typer.echo(f"wrote {path}")
