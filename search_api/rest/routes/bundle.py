"""What is being served."""
from __future__ import annotations

from fastapi import APIRouter

from vitrina.search_api.models import BundleView
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.deps import ServiceDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/bundle", tags=["bundle"], responses=ERROR_RESPONSES)


@router.get("", response_model=BundleView)
@serves(SearchService.bundle_info)
def get_bundle(service: ServiceDep) -> BundleView:
    return service.bundle_info()
