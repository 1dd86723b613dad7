"""Similarity explanations: POST /v1/explain and the heatmap overlays it names."""
from __future__ import annotations

from fastapi import APIRouter, Response

from vitrina.search_api.explain_models import ExplainRequest, ExplainView
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.deps import ServiceDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES, ErrorPublic
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/explain", tags=["explain"],
                   responses={**ERROR_RESPONSES, 429: {"model": ErrorPublic, "description": "Explanation queue full"}})


@router.post("", response_model=ExplainView)
@serves(SearchService.explain)
def explain(body: ExplainRequest, service: ServiceDep) -> ExplainView:
    """Why `target` is close to `query` or `item` in `space`: word attributions (Integrated
    Gradients), image heatmaps and a metadata and per-space score breakdown.

    Explanations run on a small worker pool with a bounded queue so they cannot starve
    search; when it is full the answer is 429 with Retry-After. Identical requests on the
    same bundle version are answered from a cache (`cached: true`).
    """
    return service.explain(body)


@router.get("/heatmaps/{heatmap_id}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "The image with the heatmap overlaid"}})
@serves(SearchService.explain_heatmap_png)
def heatmap_png(heatmap_id: str, service: ServiceDep) -> Response:
    """A heatmap named by an explanation's `png_url`, overlaid on its image (404 once it left the cache)."""
    return Response(service.explain_heatmap_png(heatmap_id), media_type="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})
