"""Dependencies: handlers take the service and settings from here, never from globals.

Everything hangs off `app.state` (set by `create_app`), so two apps in one
process (tests) never share state; tests may also replace any of these with
`app.dependency_overrides`.
"""
from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request

from vitrina.search_api.auth import ADMIN_OPERATIONS, authorize, presented_key
from vitrina.search_api.holder import BundleHolder
from vitrina.search_api.observability import operation_of
from vitrina.search_api.service import SearchService
from vitrina.search_api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_holder(request: Request) -> BundleHolder:
    return request.app.state.holder


def get_service(request: Request) -> SearchService:
    return request.app.state.service


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[BundleHolder, Depends(get_holder)]
ServiceDep = Annotated[SearchService, Depends(get_service)]


# The web map's key for what a browser fetches without asking (pictures in <img>): set by the
# page (SameSite=Strict, this origin only) and taken for reads alone, never for admin calls, so
# a cross-site form cannot reload the server with it.
KEY_COOKIE = "vitrina_key"


async def require_key(request: Request) -> None:
    """The API key check of the route's operation (auth.authorize). Async: it runs on the event
    loop before the handler's thread is taken, so a refused request holds no worker."""
    operation = operation_of(request.scope.get("endpoint"))
    key = presented_key(request.headers)
    if key is None and request.method in ("GET", "HEAD") and operation not in ADMIN_OPERATIONS:
        key = unquote(request.cookies.get(KEY_COOKIE, "")) or None
    authorize(request.app.state.settings, operation, key)
