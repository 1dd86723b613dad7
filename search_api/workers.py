"""`vitrina serve --workers N`: N server processes on the same ports, so one machine's cores all serve.

uvicorn binds the REST socket once and starts N processes that accept from it. Each process
builds its own app from the settings the parent handed down, loads the bundle itself and starts
its own gRPC server on the gRPC port: gRPC binds with SO_REUSEPORT, so the kernel spreads new
connections over the processes. Nothing is shared between them but the files they read.

Every worker follows CURRENT (`--watch-current`, on by default here), so a publish reaches all
of them; a reload of a named version would move only the worker that answered, so it is refused.
Explanation heatmaps are the one thing a later request may ask of another worker (the PNG URL an
explanation names): workers leave them in a temporary folder they all read.
"""
from __future__ import annotations

import atexit
import copy
import json
import logging
import os

from fastapi import FastAPI

from vitrina.search_api.settings import Settings

log = logging.getLogger("vitrina.search_api")

# The parent's settings, for the worker processes uvicorn spawns (they inherit the environment).
WORKER_SETTINGS_ENV = "VITRINA_WORKER_SETTINGS"
DEFAULT_WATCH_S = 5.0
WORKER_HEALTHCHECK_S = 300.0


def run_workers(settings: Settings, host: str, port: int, grpc_port: int | None, workers: int, log_level: str) -> None:
    """Serve with `workers` processes until interrupted (blocks, like uvicorn.run)."""
    import shutil
    import tempfile

    import uvicorn

    shared = tempfile.mkdtemp(prefix="vitrina-heatmaps-")
    settings = settings.model_copy(update={"shared_heatmap_dir": shared})
    os.environ[WORKER_SETTINGS_ENV] = json.dumps(
        {"settings": settings.model_dump(mode="json"), "host": host, "grpc_port": grpc_port or 0})
    # uvicorn kills a worker that does not answer its health ping in time; loading a bundle and its
    # encoders keeps a worker busy for a while (minutes for a large bundle on a loaded machine).
    try:
        uvicorn.run(f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=False, log_config=_inherited_log_config(),
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def worker_app() -> FastAPI:
    """One worker's app, built in the worker process from the parent's settings."""
    from vitrina.search_api.rest.app import create_app

    handed = json.loads(os.environ[WORKER_SETTINGS_ENV])
    app = create_app(Settings(**handed["settings"]))
    if handed["grpc_port"]:
        from vitrina.search_api.grpc import serve_grpc

        server = serve_grpc(app.state.service, handed["grpc_port"], host=handed["host"])
        log.info("gRPC listening", extra={"host": handed["host"], "port": server.bound_port, "worker": os.getpid()})
        # Runs when uvicorn's server loop has returned and the worker process exits.
        atexit.register(lambda: server.stop(grace=5).wait())
    return app


def _inherited_log_config() -> dict:
    """uvicorn's own logging plus the `vitrina` logger as this process set it up, for every worker.

    uvicorn applies its log config again inside each worker process; without the `vitrina`
    part, workers would drop the structured logs (access lines included)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    ours = logging.getLogger("vitrina")
    names = []
    for n, handler in enumerate(h for h in ours.handlers if isinstance(h, logging.StreamHandler)):
        formatter = type(handler.formatter or logging.Formatter())
        config["formatters"][f"vitrina{n}"] = {"()": f"{formatter.__module__}.{formatter.__qualname__}"}
        config["handlers"][f"vitrina{n}"] = {"class": "logging.StreamHandler", "formatter": f"vitrina{n}",
                                             "stream": "ext://sys.stderr"}
        names.append(f"vitrina{n}")
    if names:
        config["loggers"]["vitrina"] = {"handlers": names, "level": logging.getLevelName(ours.level), "propagate": False}
    return config
