"""`vitrina serve`: run the REST API over one collection with uvicorn, and gRPC beside it.

The root CLI registers `serve` as a command; it is a plain function so the
same signature also works from Python.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger("vitrina.search_api")


def serve(
    bundles: Annotated[
        Path,
        typer.Option(
            "--bundles",
            help="Bundles root: the folder holding one folder per collection (what `vitrina index build --out` wrote).",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ],
    collection: Annotated[str, typer.Option(help="Collection to serve; its CURRENT version loads at startup.")],
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 to accept connections from other machines.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=0, max=65535)] = 8080,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")] = "info",
    preload_encoders: Annotated[
        bool,
        typer.Option(help="Create query encoders at startup so the first text/image query is not slow."),
    ] = True,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the gRPC API (vitrina.v1.Vitrina, health, reflection) on this port, on the same "
            "interface and the same loaded bundle; e.g. 50051. Off by default (unset or 0).",
            min=0,
            max=65535,
        ),
    ] = None,
) -> None:
    """Serve a collection over REST (search, neighbours, items, thumbnails), and gRPC with --grpc-port.

    Limits (max k, upload size ...) come from VITRINA_* environment variables,
    e.g. VITRINA_MAX_K=500; see vitrina.search_api.settings.Settings.
    """
    import uvicorn

    from vitrina.search_api.rest.app import create_app
    from vitrina.search_api.settings import Settings

    settings = Settings.from_env(bundles_root=bundles, collection=collection, preload_encoders=preload_encoders)
    app = create_app(settings)
    # Started before uvicorn, which loads the bundle: until then gRPC answers UNAVAILABLE and
    # health NOT_SERVING, as /readyz answers 503.
    grpc_server = _start_grpc(app.state.service, host, grpc_port) if grpc_port else None
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level.lower())
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait()


def _start_grpc(service, host: str, port: int):
    from vitrina.search_api.grpc import serve_grpc

    server = serve_grpc(service, port, host=host)
    log.info("gRPC listening", extra={"host": host, "port": server.bound_port})
    return server
