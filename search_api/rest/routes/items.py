"""Items, their thumbnails and their neighbours.

Ids may contain '/', so every route takes the id as a `path` parameter; the
suffix routes are declared before the bare one so `<id>/image`, `<id>/card` and
`<id>/neighbours` win. (An id that itself ends in one of those suffixes
is therefore only reachable through the suffix routes.)
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vitrina.search_api.map_operations import CARD_WORDS
from vitrina.search_api.models import THUMBNAIL_SIZE, Hits, ItemCard, ItemView
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.deps import ServiceDep, SettingsDep
from vitrina.search_api.rest.params import FilterQuery, KQuery
from vitrina.search_api.rest.responses import json_of
from vitrina.search_api.rest.schemas import ERROR_RESPONSES, ExportRequest
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/items", tags=["items"], responses=ERROR_RESPONSES)
PARQUET = "application/vnd.apache.parquet"


@router.get(
    "/{item_id:path}/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "PNG thumbnail"}},
)
@serves(SearchService.thumbnail)
def get_item_image(
    item_id: str,
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    size: Annotated[int, Query(description="Longest side in pixels (16..1024); small images are not enlarged")] = THUMBNAIL_SIZE,
) -> Response:
    thumb = service.thumbnail(item_id, size)
    headers = {"Cache-Control": f"public, max-age={settings.thumbnail_max_age_s}", "ETag": thumb.etag}
    if request.headers.get("if-none-match") == thumb.etag:
        return Response(status_code=304, headers=headers)
    return Response(thumb.content, media_type=thumb.media_type, headers=headers)


@router.get("/{item_id:path}/neighbours", response_model=Hits)
@serves(SearchService.neighbours)
def get_item_neighbours(
    item_id: str,
    service: ServiceDep,
    space: Annotated[str, Query(description="Space to look in (image, text, joint)")] = "image",
    k: KQuery = 10,
    filter: FilterQuery = None,
) -> Response:
    """The k items closest to this one, itself excluded."""
    return json_of(service.neighbours(item_id, space, k, filter))


@router.get("/{item_id:path}/card", response_model=ItemCard)
@serves(SearchService.item_card)
def get_item_card(
    item_id: str,
    service: ServiceDep,
    words: Annotated[int, Query(description="Most salient words per text space, 1..50")] = CARD_WORDS,
    compute: Annotated[bool, Query(description="Compute the words of a text space that the build did not "
                                   "store for this item (an explanation: seconds, 429 when busy)")] = False,
) -> ItemCard:
    """What the map's hover card shows: title, text with its most salient words (from the
    build's stored word attributions), metadata and the thumbnail URL."""
    return service.item_card(item_id, words, compute)


@router.post(
    "/export",
    response_class=Response,
    responses={200: {"content": {PARQUET: {}}, "description": "The items as a Parquet file"}},
)
@serves(SearchService.export_items)
def export_items(body: ExportRequest, service: ServiceDep) -> Response:
    """The items as Parquet: id, title, text, x and y on the space's map (when a space is given)
    and every metadata column but free-text ones. The web map exports its selection with it."""
    data = service.export_items(body.ids, body.space)
    return Response(data, media_type=PARQUET, headers={"Content-Disposition": 'attachment; filename="items.parquet"'})


@router.get("/{item_id:path}", response_model=ItemView)
@serves(SearchService.get_item)
def get_item(item_id: str, service: ServiceDep) -> Response:
    return json_of(service.get_item(item_id))
