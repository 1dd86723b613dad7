"""Per-space maps of the collection: label outliers (projections and clusters join here)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vitrina.search_api.models import OutliersView
from vitrina.search_api.rest.deps import ServiceDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/v1/spaces", tags=["spaces"], responses=ERROR_RESPONSES)


@router.get("/{space}/outliers", response_model=OutliersView)
def get_space_outliers(
    space: str,
    service: ServiceDep,
    attribute: Annotated[
        str | None, Query(description="A categorical metadata attribute, e.g. category; omitted: all of them")
    ] = None,
    limit: Annotated[int, Query(description="Most outliers to return, 1..max_outliers (server setting, 1000 by default)")] = 100,
) -> OutliersView:
    """Items whose label disagrees with a strong majority of their neighbours in this space, most confident first."""
    return service.outliers(space, attribute, limit)
