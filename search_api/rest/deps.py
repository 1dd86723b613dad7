"""Dependencies: handlers take the service and settings from here, never from globals.

Everything hangs off `app.state` (set by `create_app`), so two apps in one
process (tests) never share state; tests may also replace any of these with
`app.dependency_overrides`.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vitrina.search_api.auth import authorize, presented_key
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


async def require_key(request: Request) -> None:
    """The API key check of the route's operation (auth.authorize). Async: it runs on the event
    loop before the handler's thread is taken, so a refused request holds no worker."""
    authorize(request.app.state.settings, operation_of(request.scope.get("endpoint")), presented_key(request.headers))
