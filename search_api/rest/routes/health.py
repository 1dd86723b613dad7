"""Liveness and readiness probes."""
from __future__ import annotations

from fastapi import APIRouter

from vitrina.search_api.rest.deps import HolderDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES, StatusPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=StatusPublic)
def healthz() -> StatusPublic:
    """The process answers; says nothing about the bundle."""
    return StatusPublic(status="ok")


@router.get("/readyz", response_model=StatusPublic, responses={503: ERROR_RESPONSES[503]})
def readyz(holder: HolderDep) -> StatusPublic:
    """200 once a bundle is loaded; 503 (error envelope) before."""
    return StatusPublic(status="ready", bundle_version=holder.get().version)
