"""`create_app`: the FastAPI application over one `SearchService`.

The bundle loads in `lifespan`, not at import, so importing this module (or
building an app in a test) costs nothing until the app starts.
"""
from __future__ import annotations

import functools
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from vitrina import __version__
from vitrina.indexer.bundle.reader import BundleNotFoundError
from vitrina.search_api.auth import ADMIN_OPERATIONS
from vitrina.search_api.holder import BundleHolder
from vitrina.search_api.rest.deps import require_key
from vitrina.search_api.rest.errors import install_error_handlers
from vitrina.search_api.rest.limits import BodyLimitMiddleware
from vitrina.search_api.rest.middleware import AccessLogMiddleware, TimeoutMiddleware
from vitrina.search_api.rest import web
from vitrina.search_api.rest.routes import API, PROBES
from vitrina.search_api.service import SearchService
from vitrina.search_api.settings import Settings

log = logging.getLogger("vitrina.search_api")

# Multipart framing (boundaries, part headers, the small form fields) on top of the file itself.
MULTIPART_SLACK = 64 * 1024


def _load_initial_bundle(holder: BundleHolder, settings: Settings) -> None:
    if settings.bundles_root is None or holder.ready:
        return
    try:
        holder.load(settings.bundles_root, settings.collection, preload_encoders=settings.preload_encoders)
    except BundleNotFoundError as exc:
        # Nothing published yet is a normal state for a fresh deployment: serve
        # /healthz, answer 503 on /readyz, and let a later reload fill the holder.
        log.warning("starting without a bundle: %s", exc)


def _configure_faiss(settings: Settings) -> None:
    if settings.faiss_threads > 0:
        import faiss

        faiss.omp_set_num_threads(settings.faiss_threads)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings, reloader = app.state.settings, app.state.service.reloader
    _configure_faiss(settings)
    _load_initial_bundle(app.state.holder, settings)
    if settings.watch_current_s:
        reloader.watch_current(settings.watch_current_s)
    try:
        yield
    finally:
        reloader.stop()


def _operation_id(route: APIRoute) -> str:
    # Stable "<tag>-<name>" ids keep generated clients' method names readable.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(
    settings: Settings | None = None,
    holder: BundleHolder | None = None,
    encoder_factory: Callable[..., Any] | None = None,
) -> FastAPI:
    """An app serving `settings.collection`, or whatever `holder` already holds.

    `encoder_factory` replaces the real encoders (tests pass fakes); it is
    ignored when a `holder` is given, since the holder opens bundles itself.
    """
    settings = settings or Settings.from_env()
    if encoder_factory is None and settings.encoder_runtime != "torch":
        from vitrina.training.encoders import create_encoder

        encoder_factory = functools.partial(create_encoder, runtime=settings.encoder_runtime,
                                            threads=settings.encoder_threads or None)
    if holder is None:
        holder = BundleHolder(
            encoder_factory=encoder_factory,
            use_gpu=settings.use_gpu,
            filter_cache_entries=settings.filter_cache_entries,
        )
    app = FastAPI(
        title="vitrina",
        version=__version__,
        summary="Vector search over a collection of items with images, text and metadata",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    service = SearchService(holder, settings)
    # add_middleware puts each one outside the ones before: the body limit runs innermost.
    # Checked against Content-Length up front and counted while streaming, so
    # an oversized upload is refused before it is all read.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes + MULTIPART_SLACK)
    if settings.request_timeout_s:
        app.add_middleware(TimeoutMiddleware, timeout_s=settings.request_timeout_s,
                           exempt=lambda operation: operation in ADMIN_OPERATIONS)
    # Outside the timeout, so a 504 is counted and logged like any answer.
    app.add_middleware(AccessLogMiddleware, metrics=service.metrics)
    if settings.cors_origins:
        # Outermost: preflights are answered before anything else, and errors carry the headers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            expose_headers=["ETag", "Retry-After"],
        )
    app.state.settings = settings
    app.state.holder = holder
    app.state.service = service
    install_error_handlers(app)
    for router in PROBES:
        app.include_router(router)
    # The web map's page and assets hold no data: no key, like the probes.
    app.include_router(web.router)
    for router in API:
        app.include_router(router, dependencies=[Depends(require_key)])
    return app
