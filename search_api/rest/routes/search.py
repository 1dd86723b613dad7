"""Text and image queries."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from vitrina.search_api.models import Hits, HitsBatch
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.deps import ServiceDep, SettingsDep
from vitrina.search_api.rest.params import FILTER_HELP, K_HELP
from vitrina.search_api.rest.responses import json_of
from vitrina.search_api.rest.schemas import (
    ERROR_RESPONSES,
    NeighboursBatchRequest,
    TextSearchBatchRequest,
    TextSearchRequest,
)
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/search", tags=["search"], responses=ERROR_RESPONSES)


@router.post("/text", response_model=Hits)
@serves(SearchService.search_text)
def search_text(body: TextSearchRequest, service: ServiceDep) -> Response:
    return json_of(service.search_text(body.query, body.space, body.k, body.filter))


@router.post("/text:batch", response_model=HitsBatch)
@serves(SearchService.search_text_batch)
def search_text_batch(body: TextSearchBatchRequest, service: ServiceDep) -> Response:
    return json_of(service.search_text_batch(body.queries, body.space, body.k, body.filter))


@router.post("/neighbours:batch", response_model=HitsBatch)
@serves(SearchService.neighbours_batch)
def neighbours_batch(body: NeighboursBatchRequest, service: ServiceDep) -> Response:
    return json_of(service.neighbours_batch(body.item_ids, body.space, body.k, body.filter))


@router.post("/image", response_model=Hits)
@serves(SearchService.search_image)
def search_image(
    file: Annotated[UploadFile, File(description="The query image (PNG, JPEG, ...)")],
    service: ServiceDep,
    settings: SettingsDep,
    space: Annotated[str, Form(description="A space that takes image queries (image, joint)")] = "image",
    k: Annotated[int, Form(description=K_HELP)] = 10,
    filter: Annotated[str | None, Form(description=FILTER_HELP)] = None,
) -> Response:
    # The app's body limit already stopped oversized requests while streaming;
    # reading one byte past the limit lets the service name the limit exactly.
    data = file.file.read(settings.max_upload_bytes + 1)
    return json_of(service.search_image(data, space, k, filter, content_type=file.content_type))
