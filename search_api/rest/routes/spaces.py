"""Per-space maps of the collection: 2-D projections, clusters, label outliers, the metadata
columns lined up with a map's rows, and the map as a picture."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from vitrina.search_api.map_operations import projection_fields
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
    columns: Annotated[
        str | None, Query(description="Arrow only: the columns to send, comma-separated (e.g. x,y,cluster for a "
                          "first paint before the ids); omitted: id,x,y,cluster")
    ] = None,
    version: Annotated[
        str | None, Query(description="Another version of the collection (GET /v1/bundle lists them): its stored "
                          "map, without clusters; omitted: the version served")
    ] = None,
) -> Response:
    """Every item of the space on its 2-D map (coordinates in [-1, 1]) with its cluster."""
    if wants_arrow(request.headers.get("accept")):
        fields = projection_fields(columns)
        found = service.projection_columns(space, method, clustering, version)
        return StreamingResponse(
            ipc_stream(found.arrow_schema(fields), found.record_batches(fields=fields)),
            media_type=ARROW_STREAM, headers=_VARY,
        )
    view = service.projection(space, method, clustering, version)
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


@router.get(
    "/{space}/columns",
    response_class=Response,
    responses={200: {"content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
                     "description": "An Arrow IPC stream: one column per name, row i being the space's row i (as "
                     "in its projection); categoricals dictionary-encoded, numbers float64, tags a list of "
                     "dictionary-encoded strings"}},
)
@serves(SearchService.column_table)
def get_space_columns(
    space: str,
    service: ServiceDep,
    names: Annotated[
        str | None, Query(description="Metadata columns, comma-separated (GET /v1/columns lists them); omitted: "
                          "every column but free-text ones")
    ] = None,
) -> Response:
    """Metadata columns of the space's items, lined up with its projection, for colour and filters."""
    wanted = [n.strip() for n in (names or "").split(",") if n.strip()]
    table = service.column_table(space, wanted)
    return StreamingResponse(ipc_stream(table.schema, table.to_batches()), media_type=ARROW_STREAM)


@router.get(
    "/{space}/map.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The map drawn on the server"}},
)
@serves(SearchService.map_image)
def get_space_map_image(
    space: str,
    service: ServiceDep,
    method: Annotated[str | None, Query(description="Projection method; omitted: umap if present")] = None,
    colour: Annotated[str, Query(description="cluster, none, or a categorical metadata column")] = "cluster",
    width: Annotated[int, Query(description="Pixels, 64..2048")] = 800,
    height: Annotated[int, Query(description="Pixels, 64..2048")] = 600,
    theme: Annotated[str, Query(description="light or dark")] = "light",
) -> Response:
    """The map as a PNG, for browsers without WebGL (the web map shows it instead of a blank canvas)."""
    png = service.map_image(space, method, colour, width, height, theme)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
