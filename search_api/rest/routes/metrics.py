"""Prometheus metrics of both transports (observability.Metrics)."""
from __future__ import annotations

from fastapi import APIRouter, Response

from vitrina.search_api.rest.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics(service: ServiceDep) -> Response:
    """Requests by transport, operation and code; latencies; the served version; reloads;
    the explanation queue. Open like the probes: scrapers and probes carry no API key."""
    body, media_type = service.metrics.exposition()
    return Response(body, media_type=media_type)
