"""Dependencies: handlers take the service and settings from here, never from globals.

Everything hangs off `app.state` (set by `create_app`), so two apps in one
process (tests) never share state; tests may also replace any of these with
`app.dependency_overrides`.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vitrina.search_api.holder import BundleHolder
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
