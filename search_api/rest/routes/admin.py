"""Operating the server: POST /v1/admin/reload (an API key is always required)."""
from __future__ import annotations

from fastapi import APIRouter

from vitrina.search_api.models import ReloadView
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.deps import ServiceDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES, ErrorPublic, ReloadRequest
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses={
    **ERROR_RESPONSES, 403: {"model": ErrorPublic, "description": "No API key is configured: the admin API is off"}})


@router.post("/reload", response_model=ReloadView)
@serves(SearchService.reload)
def reload(service: ServiceDep, body: ReloadRequest | None = None) -> ReloadView:
    """Serve another version: `version`, or the one CURRENT names now when omitted.

    The new version is opened completely while the old one keeps answering, then swapped in
    at once; requests in flight finish on the old one. Already served: nothing is loaded
    (`changed: false`). Unknown version: 404; a version that fails to load: 503, and the old
    one keeps serving. Needs an API key (X-API-Key or Authorization: Bearer); 403 while the
    server has none configured.
    """
    return service.reload(body.version if body is not None else None)
