"""`vitrina demo`: index the openclipart collection and serve it."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

log = logging.getLogger("vitrina.demo")

DEMO_SPACES = ["image=builtin:efficientnet-lite0", "text=builtin:minilm-l6"]


def demo(
    bundles: Annotated[Path, typer.Option(help="Bundles root folder")] = Path("bundles"),
    collection: Annotated[str, typer.Option(help="Collection name")] = "openclipart",
    openclipart_root: Annotated[Path, typer.Option(help="Where Debian's openclipart-png/-svg live")] = Path("/usr/share/openclipart"),
    limit: Annotated[Optional[int], typer.Option(help="Index only N items (a quick demo); default: all 8,121")] = None,
    rebuild: Annotated[bool, typer.Option(help="Build a new version even if CURRENT matches")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="REST port")] = 8080,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the bundle once built")] = True,
) -> None:
    """Build the openclipart bundle (image + text spaces, offline built-in encoders) and serve it.

    Re-running reuses the published version when the catalogue, encoders and
    options are unchanged.
    """
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    catalogue = f"openclipart:{openclipart_root}"
    if not (openclipart_root / "png").is_dir():
        raise typer.BadParameter(
            f"{openclipart_root}/png not found: install Debian's openclipart-png and openclipart-svg "
            "(`apt-get install openclipart-png openclipart-svg`, done by `make demo`)",
            param_hint="--openclipart-root",
        )
    result = build_bundle(
        catalogue, bundles, collection, [SpaceRequest.parse(s) for s in DEMO_SPACES],
        BuildOptions(limit=limit, skip_unchanged=not rebuild),
    )
    if result.reused:
        typer.echo(f"{collection}: CURRENT ({result.version}) was built from the same inputs; not rebuilding (--rebuild forces)")
    else:
        typer.echo(f"published {collection} version {result.version}: {result.report['spaces']}")
    if serve_after:
        from vitrina.search_api.cli import serve

        typer.echo(f"serving on http://{host}:{port}  (try: curl '{host}:{port}/v1/bundle')")
        serve(bundles=bundles, collection=collection, host=host, port=port)
