"""Typed Python clients of a vitrina server: `RestClient` (HTTP) and `GrpcClient` (gRPC).

Both have the same methods, declared once in `Client`, and return the service's own views
(`search_api.models`); a request the server refuses raises the same typed error
(`search_api.errors`) on either transport. Arguments left None are not sent, so the
server's defaults apply.

    with RestClient("http://localhost:8080") as client:
        hits = client.search_text("a red car", k=5)
    with GrpcClient("localhost:50051") as client:
        item = client.get_item(hits.hits[0].id)
"""
from __future__ import annotations

import json
from typing import Any, Mapping, TypeVar
from urllib.parse import quote

import grpc
import httpx
from pydantic import BaseModel

from vitrina.search_api.auth import API_KEY_HEADER
from vitrina.search_api.errors import ServiceError, error_from_wire
from vitrina.search_api.explain_models import ExplainView
from vitrina.search_api.grpc.convert import to_request, to_view
from vitrina.search_api.grpc.status import error_from_rpc, with_retry
from vitrina.search_api.models import (
    BundleView,
    ClusterItemsView,
    ClustersView,
    ColumnsView,
    Hits,
    ItemCard,
    ItemView,
    OutliersView,
    ProjectionView,
    ReloadView,
    Thumbnail,
)
from vitrina.v1 import admin_pb2, bundle_pb2, explain_pb2, items_pb2, maps_pb2, search_pb2, vitrina_pb2_grpc, webmap_pb2

V = TypeVar("V", bound=BaseModel)
Filter = Mapping[str, Any] | None


class Client:
    """The operations; a transport implements `_ask` (one operation, answered by a view) and `_image`."""

    def get_item(self, item_id: str) -> ItemView:
        return self._ask("get_item", ItemView, item_id=item_id)

    def thumbnail(self, item_id: str, size: int | None = None) -> Thumbnail:
        return self._image(item_id, size)

    def neighbours(self, item_id: str, space: str | None = None, k: int | None = None, filter: Filter = None) -> Hits:
        return self._ask("neighbours", Hits, item_id=item_id, space=space, k=k, filter=filter)

    def search_text(self, query: str, space: str | None = None, k: int | None = None, filter: Filter = None) -> Hits:
        return self._ask("search_text", Hits, query=query, space=space, k=k, filter=filter)

    def search_image(
        self,
        image: bytes,
        space: str | None = None,
        k: int | None = None,
        filter: Filter = None,
        content_type: str | None = None,
    ) -> Hits:
        return self._ask("search_image", Hits, image=image, space=space, k=k, filter=filter, content_type=content_type)

    def projection(self, space: str, method: str | None = None, clustering: str | None = None,
                   version: str | None = None) -> ProjectionView:
        """The map of `space`; `version`: as another version of the collection stored it."""
        return self._ask("projection", ProjectionView, space=space, method=method, clustering=clustering,
                         version=version)

    def clusters(self, space: str, method: str | None = None) -> ClustersView:
        return self._ask("clusters", ClustersView, space=space, method=method)

    def cluster_items(
        self, space: str, cluster: int, method: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> ClusterItemsView:
        return self._ask(
            "cluster_items", ClusterItemsView, space=space, cluster=cluster, method=method, limit=limit, offset=offset
        )

    def outliers(self, space: str, attribute: str | None = None, limit: int | None = None) -> OutliersView:
        return self._ask("outliers", OutliersView, space=space, attribute=attribute, limit=limit)

    def bundle(self) -> BundleView:
        return self._ask("bundle", BundleView)

    def columns(self) -> ColumnsView:
        """The catalogue of the items' metadata columns."""
        return self._ask("columns", ColumnsView)

    def item_card(self, item_id: str, words: int | None = None, compute: bool | None = None) -> ItemCard:
        """What the web map's hover card shows, salient words included (`compute`: also those the
        build did not store, computed now)."""
        return self._ask("item_card", ItemCard, item_id=item_id, words=words, compute=compute)

    def explain(self, space: str, target: str | None = None, query: str | None = None, item: str | None = None,
                kinds: list[str] | None = None, steps: int | None = None, heatmap_method: str | None = None,
                heatmap_baseline: str | None = None, reduction: str | None = None) -> ExplainView:
        """Why `target` is close to `query` or `item` in `space` (see ExplainRequest)."""
        return self._ask("explain", ExplainView, space=space, target=target, query=query, item=item, kinds=kinds,
                         steps=steps, heatmap_method=heatmap_method, heatmap_baseline=heatmap_baseline,
                         reduction=reduction)

    def reload(self, version: str | None = None) -> ReloadView:
        """Make the server serve `version` (None: the one CURRENT names); needs an API key."""
        return self._ask("reload", ReloadView, version=version)

    def explain_heatmap_png(self, png_url: str) -> bytes:
        """The overlay PNG of a heatmap, by the `png_url` an explanation gave."""
        return self._heatmap(png_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".png"))

    def _ask(self, operation: str, view_type: type[V], **args: Any) -> V:
        raise NotImplementedError

    def _image(self, item_id: str, size: int | None) -> Thumbnail:
        raise NotImplementedError

    def _heatmap(self, heatmap_id: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# operation -> (method, path); path fields come out of the arguments, the rest go as query
# parameters (GET), a JSON body (search_text) or form fields (search_image).
_ROUTES = {
    "get_item": ("GET", "/v1/items/{item_id}"),
    "neighbours": ("GET", "/v1/items/{item_id}/neighbours"),
    "search_text": ("POST", "/v1/search/text"),
    "search_image": ("POST", "/v1/search/image"),
    "projection": ("GET", "/v1/spaces/{space}/projection"),
    "clusters": ("GET", "/v1/spaces/{space}/clusters"),
    "cluster_items": ("GET", "/v1/spaces/{space}/clusters/{cluster}/items"),
    "outliers": ("GET", "/v1/spaces/{space}/outliers"),
    "bundle": ("GET", "/v1/bundle"),
    "columns": ("GET", "/v1/columns"),
    "item_card": ("GET", "/v1/items/{item_id}/card"),
    "explain": ("POST", "/v1/explain"),
    "reload": ("POST", "/v1/admin/reload"),
}


class RestClient(Client):
    """Over HTTP; `http` replaces the httpx client (a FastAPI TestClient in tests). `api_key`
    goes with every request as X-API-Key (admin calls need one; reads where the server says so)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8080", timeout: float | None = 30.0,
                 http: httpx.Client | None = None, api_key: str | None = None):
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        # Per request, not on the httpx client: a client passed in (shared in tests) stays as it was.
        self._headers = {API_KEY_HEADER: api_key} if api_key else {}

    def _ask(self, operation: str, view_type: type[V], **args: Any) -> V:
        method, template = _ROUTES[operation]
        args = {name: value for name, value in args.items() if value is not None}
        path = template.format(**{name: _path_part(name, args.pop(name)) for name in _fields(template)})
        headers = self._headers
        if method == "POST" and operation != "search_image":
            response = self._http.post(path, json=args, headers=headers)
        elif operation == "search_image":
            image, content_type = args.pop("image"), args.pop("content_type", "application/octet-stream")
            files = {"file": ("query", image, content_type)}
            response = self._http.post(path, files=files, data={k: _text(v) for k, v in args.items()}, headers=headers)
        else:
            response = self._http.request(method, path, params={k: _text(v) for k, v in args.items()}, headers=headers)
        return view_type.model_validate(_checked(response).json())

    def _image(self, item_id: str, size: int | None) -> Thumbnail:
        params = {} if size is None else {"size": size}
        path = f"/v1/items/{_path_part('item_id', item_id)}/image"
        response = _checked(self._http.get(path, params=params, headers=self._headers))
        return Thumbnail(response.content, response.headers["content-type"], response.headers["etag"])

    def _heatmap(self, heatmap_id: str) -> bytes:
        path = f"/v1/explain/heatmaps/{quote(heatmap_id, safe='')}.png"
        return _checked(self._http.get(path, headers=self._headers)).content

    def close(self) -> None:
        self._http.close()


def _fields(template: str) -> list[str]:
    return [part.split("}")[0] for part in template.split("{")[1:]]


def _path_part(name: str, value: Any) -> str:
    # Item ids may hold '/', which the item routes take as part of the path.
    return quote(str(value), safe="/" if name == "item_id" else "")


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, Mapping) else str(value)


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    try:
        error = response.json()["error"]
        code, message, field = error["code"], error["message"], error.get("field")
    except (ValueError, KeyError, TypeError):
        error = None
    if error is None:
        response.raise_for_status()  # not the error envelope (a proxy's page, say): httpx's own error
    raise with_retry(error_from_wire(code, message, field), response.headers.get("retry-after"))


# operation -> (rpc, request type, argument renames)
_RPCS = {
    "get_item": ("GetItem", items_pb2.GetItemRequest, {}),
    "neighbours": ("GetNeighbours", items_pb2.GetNeighboursRequest, {}),
    "search_text": ("SearchText", search_pb2.SearchTextRequest, {}),
    "search_image": ("SearchImage", search_pb2.SearchImageRequest, {"image": "file"}),
    "projection": ("GetProjection", maps_pb2.GetProjectionRequest, {}),
    "clusters": ("ListClusters", maps_pb2.ListClustersRequest, {}),
    "cluster_items": ("ListClusterItems", maps_pb2.ListClusterItemsRequest, {}),
    "outliers": ("ListOutliers", maps_pb2.ListOutliersRequest, {}),
    "bundle": ("GetBundle", bundle_pb2.GetBundleRequest, {}),
    "columns": ("ListColumns", webmap_pb2.ListColumnsRequest, {}),
    "item_card": ("GetItemCard", webmap_pb2.GetItemCardRequest, {}),
    "explain": ("Explain", explain_pb2.ExplainRequest, {}),
    "reload": ("Reload", admin_pb2.ReloadRequest, {}),
}


class GrpcClient(Client):
    """Over gRPC to `target` ("host:port"); `channel` replaces the insecure channel made for it.
    `api_key` goes with every call as `x-api-key` metadata."""

    def __init__(self, target: str = "127.0.0.1:50051", timeout: float | None = 30.0,
                 channel: grpc.Channel | None = None, api_key: str | None = None):
        # No receive limit: the map of a large space is one message of many megabytes.
        self._channel = channel or grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
        self._stub = vitrina_pb2_grpc.VitrinaStub(self._channel)
        self.timeout = timeout
        self._metadata = ((API_KEY_HEADER, api_key),) if api_key else None

    def _ask(self, operation: str, view_type: type[V], **args: Any) -> V:
        rpc, request_type, renames = _RPCS[operation]
        return to_view(self._call(rpc, to_request(request_type, renames, **args)), view_type)

    def _image(self, item_id: str, size: int | None) -> Thumbnail:
        reply = self._call("GetItemImage", to_request(items_pb2.GetItemImageRequest, item_id=item_id, size=size))
        return Thumbnail(reply.content, reply.media_type, reply.etag)

    def _heatmap(self, heatmap_id: str) -> bytes:
        return self._call("GetExplainHeatmap", explain_pb2.GetExplainHeatmapRequest(heatmap_id=heatmap_id)).content

    def _call(self, rpc: str, request):
        try:
            return getattr(self._stub, rpc)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            error: ServiceError | None = error_from_rpc(exc)
            if error is None:
                raise
            raise error from None

    def close(self) -> None:
        self._channel.close()
