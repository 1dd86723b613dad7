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
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help="A key that authorises admin calls (POST /v1/admin/reload, gRPC Reload); repeat for several. "
            "Visible to anyone who can list processes: prefer --api-keys-file or VITRINA_API_KEYS.",
        ),
    ] = None,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(help="File of API keys, one a line ('#' comments); adds to --api-key.", exists=True,
                     dir_okay=False),
    ] = None,
    require_key_for_reads: Annotated[
        bool, typer.Option("--require-key-for-reads", help="Ask for an API key on every read as well.")
    ] = False,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="An origin browsers may call the REST API from ('*': any); repeatable."),
    ] = None,
    request_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a request may take before 504 / DEADLINE_EXCEEDED (admin calls exempt).", min=0.001),
    ] = None,
    watch_current: Annotated[
        float | None,
        typer.Option(help="Poll the collection's CURRENT every SECONDS and reload when it changes.", min=0.1,
                     metavar="SECONDS"),
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(help="What runs the query encoders: torch, onnx (ONNX Runtime: the same vectors, faster on "
                     "CPU) or onnx-int8 (only for bundles built with --runtime onnx-int8). Default: torch, or "
                     "VITRINA_ENCODER_RUNTIME."),
    ] = None,
    encoder_threads: Annotated[
        int | None,
        typer.Option(help="Threads per ONNX Runtime query encoder (default 1, which leaves the other cores to "
                     "concurrent requests; VITRINA_ENCODER_THREADS).", min=1),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="Server processes sharing the REST and gRPC ports, e.g. one per core. Each loads the "
                     "bundle; all follow CURRENT (--watch-current, 5 s unless given).", min=1),
    ] = 1,
) -> None:
    """Serve a collection over REST (search, neighbours, items, thumbnails), and gRPC with --grpc-port.

    Limits (max k, upload size ...) come from VITRINA_* environment variables,
    e.g. VITRINA_MAX_K=500; see vitrina.search_api.settings.Settings. Options given here win.
    """
    import uvicorn

    from vitrina.search_api.auth import read_keys_file
    from vitrina.search_api.rest.app import create_app
    from vitrina.search_api.settings import Settings
    from vitrina.search_api.workers import DEFAULT_WATCH_S, run_workers

    keys = list(api_key or []) + (read_keys_file(api_keys_file) if api_keys_file else [])
    settings = Settings.from_env(
        bundles_root=bundles,
        collection=collection,
        preload_encoders=preload_encoders,
        # None leaves the environment's value in place.
        api_keys=keys or None,
        require_key_for_reads=require_key_for_reads or None,
        cors_origins=list(cors_origin) if cors_origin else None,
        request_timeout_s=request_timeout,
        watch_current_s=watch_current or (DEFAULT_WATCH_S if workers > 1 else None),
        workers=workers,
        encoder_runtime=runtime,
        encoder_threads=encoder_threads,
    )
    if workers > 1:
        run_workers(settings, host, port, grpc_port, workers, log_level.lower())
        return
    app = create_app(settings)
    # Started before uvicorn, which loads the bundle: until then gRPC answers UNAVAILABLE and
    # health NOT_SERVING, as /readyz answers 503.
    grpc_server = _start_grpc(app.state.service, host, grpc_port) if grpc_port else None
    try:
        # access_log off: the app writes its own structured line per request (logger vitrina.access).
        uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False)
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait()


def _start_grpc(service, host: str, port: int):
    from vitrina.search_api.grpc import serve_grpc

    server = serve_grpc(service, port, host=host)
    log.info("gRPC listening", extra={"host": host, "port": server.bound_port})
    return server
