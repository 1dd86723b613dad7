"""Per-space maps of the collection: 2-D projections, clusters and label outliers."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from vitrina.search_api.models import ClusterItemsView, ClustersView, OutliersView, ProjectionView
from vitrina.search_api.observability import serves
from vitrina.search_api.rest.arrow import ARROW_STREAM, ipc_stream, wants_arrow
from vitrina.search_api.rest.deps import ServiceDep
from vitrina.search_api.rest.schemas import ERROR_RESPONSES
from vitrina.search_api.service import SearchService

router = APIRouter(prefix="/v1/spaces", tags=["spaces"], responses=ERROR_RESPONSES)

# The representation depends on Accept: caches must key on it.
_VARY = {"Vary": "Accept"}


@router.get(
    "/{space}/projection",
    response_model=ProjectionView,
    responses={
        200: {
            "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
            "description": "JSON by default; with `Accept: application/vnd.apache.arrow.stream`, an Arrow IPC "
            "stream of record batches with columns id (string), x, y (float32), cluster (int32, null without "
            "a clustering); bundle_version, space, method and clustering in the schema metadata",
        }
    },
)
@serves(SearchService.projection)
def get_space_projection(
    space: str,
    request: Request,
    service: ServiceDep,
    method: Annotated[
        str | None, Query(description="Projection method (umap, pca, tsne, pacmap); omitted: umap if present")
    ] = None,
    clustering: Annotated[
        str | None, Query(description="Clustering whose labels fill `cluster`; omitted: the space's first")
    ] = None,
) -> Response:
    """Every item of the space on its 2-D map (coordinates in [-1, 1]) with its cluster."""
    if wants_arrow(request.headers.get("accept")):
        columns = service.projection_columns(space, method, clustering)
        return StreamingResponse(
            ipc_stream(columns.arrow_schema(), columns.record_batches()), media_type=ARROW_STREAM, headers=_VARY
        )
    view = service.projection(space, method, clustering)
    # Serialised here rather than through response_model: the view is already validated,
    # and a second pass over 100k+ points would double the cost.
    return Response(view.model_dump_json(), media_type="application/json", headers=_VARY)


@router.get("/{space}/clusters", response_model=ClustersView)
@serves(SearchService.clusters)
def get_space_clusters(
    space: str,
    service: ServiceDep,
    method: Annotated[
        str | None, Query(description="Clustering (hdbscan, dbscan, kmeans, agglomerative); omitted: all of them")
    ] = None,
) -> ClustersView:
    """The clusters of the space: size, name (c-TF-IDF keywords) and representative items."""
    return service.clusters(space, method)


@router.get("/{space}/clusters/{cluster}/items", response_model=ClusterItemsView)
@serves(SearchService.cluster_items)
def get_space_cluster_items(
    space: str,
    cluster: int,
    service: ServiceDep,
    method: Annotated[str | None, Query(description="Clustering the cluster belongs to; omitted: the space's first")] = None,
    limit: Annotated[int, Query(description="Most items to return, 1..max_cluster_items (server setting, 1000 by default)")] = 100,
    offset: Annotated[int, Query(description="Items to skip, for paging")] = 0,
) -> ClusterItemsView:
    """The items of one cluster (-1: noise), most central first."""
    return service.cluster_items(space, cluster, method, limit, offset)


@router.get("/{space}/outliers", response_model=OutliersView)
@serves(SearchService.outliers)
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
