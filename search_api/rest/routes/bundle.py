"""What is being served: the bundle, and the catalogue of its metadata columns."""
from __future__ import annotations

from fastapi import APIRouter

from vitrina.search_api.models import BundleView, ColumnsView
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.deps import ServiceDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/bundle", tags=["bundle"], responses=ERROR_RESPONSES)


@router.get("", response_model=BundleView)
@serves(SearchService.bundle_info)
def get_bundle(service: ServiceDep) -> BundleView:
    return service.bundle_info()


columns_router = APIRouter(prefix="/v1/columns", tags=["bundle"], responses=ERROR_RESPONSES)


@columns_router.get("", response_model=ColumnsView)
@serves(SearchService.columns)
def get_columns(service: ServiceDep) -> ColumnsView:
    """The catalogue of the items' metadata columns: kind, counts, range or most common values.
    GET /v1/spaces/{space}/columns sends their values as Arrow."""
    return service.columns()
