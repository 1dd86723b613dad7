"""The Vitrina gRPC service: each RPC is one SearchService call, converted generically.

Deadlines: the service's work cannot be interrupted once started, so the deadline is checked
before it (a request that waited out its deadline in the queue costs nothing) and again
before converting the answer (a large map is work too). The server's request timeout
counts as a deadline too (interceptor.py). Each RPC is marked with the service method it
serves: its operation name for metrics, logs and API keys, the same as REST's.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, TypeVar

import grpc
from google.protobuf.message import Message

from vitrina.schemas.errors import FieldError
from vitrina.search_api.errors import DeadlineExceeded, ServiceError, from_field_error
from vitrina.search_api.explain_models import ExplainRequest
from vitrina.search_api.grpc.convert import arguments, arrow_chunks, projection_chunks, projection_message, to_message
from vitrina.search_api.grpc.status import abort
from vitrina.search_api.models import THUMBNAIL_SIZE
from vitrina.search_api.observability import serves
from vitrina.search_api.service import SearchService
from vitrina.v1 import admin_pb2, bundle_pb2, explain_pb2, items_pb2, maps_pb2, vitrina_pb2_grpc, webmap_pb2

M = TypeVar("M", bound=Message)
T = TypeVar("T")
log = logging.getLogger("vitrina.search_api")


def check_deadline(context: grpc.ServicerContext) -> None:
    if context.time_remaining() <= 0:
        # The server's request timeout (interceptor.Budget) is a service error, as REST's 504;
        # the client's own deadline stays grpc's plain status.
        timeout = getattr(context, "expired_timeout_s", None)
        if timeout is not None:
            abort(context, DeadlineExceeded(f"no answer within the server's request timeout of {timeout:g} s"))
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded; the request was not answered")


def call(context: grpc.ServicerContext, operation: Callable[..., T], **kwargs: Any) -> T:
    """`operation(**kwargs)` within the deadline, its ServiceError as the matching status."""
    check_deadline(context)
    try:
        result = operation(**kwargs)
    except ServiceError as error:
        abort(context, error)
    except FieldError as error:
        abort(context, from_field_error(error))
    except Exception:
        # As REST's 500: the traceback goes to the log, not to the client (grpc would send its text).
        log.exception("gRPC request failed", extra={"operation": getattr(operation, "__name__", str(operation))})
        context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")
    check_deadline(context)
    return result


class VitrinaServicer(vitrina_pb2_grpc.VitrinaServicer):
    def __init__(self, service: SearchService):
        self.service = service

    def _unary(self, context, message_type: type[M], operation: Callable[..., Any], request, **renames: str) -> M:
        return to_message(call(context, operation, **arguments(request, **renames)), message_type)

    @serves(SearchService.get_item)
    def GetItem(self, request, context):
        return self._unary(context, items_pb2.Item, self.service.get_item, request)

    @serves(SearchService.thumbnail)
    def GetItemImage(self, request, context):
        thumb = call(context, self.service.thumbnail, **{"size": THUMBNAIL_SIZE, **arguments(request)})
        return items_pb2.ItemImage(content=thumb.content, media_type=thumb.media_type, etag=thumb.etag)

    @serves(SearchService.neighbours)
    def GetNeighbours(self, request, context):
        return self._unary(context, items_pb2.Hits, self.service.neighbours, request)

    @serves(SearchService.search_text)
    def SearchText(self, request, context):
        return self._unary(context, items_pb2.Hits, self.service.search_text, request)

    def _stream_hits(self, context, operation: Callable[..., Any], request) -> Iterator[items_pb2.Hits]:
        batch = call(context, operation, **arguments(request))
        for hits in batch.results:
            check_deadline(context)
            yield to_message(hits, items_pb2.Hits)

    @serves(SearchService.search_text_batch)
    def SearchTextBatch(self, request, context) -> Iterator[items_pb2.Hits]:
        return self._stream_hits(context, self.service.search_text_batch, request)

    @serves(SearchService.neighbours_batch)
    def GetNeighboursBatch(self, request, context) -> Iterator[items_pb2.Hits]:
        return self._stream_hits(context, self.service.neighbours_batch, request)

    @serves(SearchService.search_image)
    def SearchImage(self, request, context):
        return self._unary(context, items_pb2.Hits, self.service.search_image, request, file="image")

    @serves(SearchService.projection)
    def GetProjection(self, request, context):
        return projection_message(call(context, self.service.projection_columns, **arguments(request)))

    @serves(SearchService.projection)
    def GetProjectionColumns(self, request, context) -> Iterator[maps_pb2.ProjectionColumns]:
        columns = call(context, self.service.projection_columns, **arguments(request))
        for chunk in projection_chunks(columns):
            check_deadline(context)
            yield chunk

    @serves(SearchService.clusters)
    def ListClusters(self, request, context):
        return self._unary(context, maps_pb2.Clusters, self.service.clusters, request)

    @serves(SearchService.cluster_items)
    def ListClusterItems(self, request, context):
        return self._unary(context, maps_pb2.ClusterItems, self.service.cluster_items, request)

    @serves(SearchService.outliers)
    def ListOutliers(self, request, context):
        return self._unary(context, maps_pb2.Outliers, self.service.outliers, request)

    @serves(SearchService.bundle_info)
    def GetBundle(self, request, context):
        return self._unary(context, bundle_pb2.Bundle, self.service.bundle_info, request)

    @serves(SearchService.explain)
    def Explain(self, request, context):
        fields = arguments(request)
        if not fields.get("kinds"):  # an empty repeated field: the REST default (every kind)
            fields.pop("kinds", None)
        view = call(context, lambda: self.service.explain(ExplainRequest.parse(fields)))
        return to_message(view, explain_pb2.Explanation)

    @serves(SearchService.explain_heatmap_png)
    def GetExplainHeatmap(self, request, context):
        png = call(context, self.service.explain_heatmap_png, **arguments(request))
        return items_pb2.ItemImage(content=png, media_type="image/png", etag=f'"{request.heatmap_id}"')

    @serves(SearchService.columns)
    def ListColumns(self, request, context):
        return self._unary(context, webmap_pb2.Columns, self.service.columns, request)

    @serves(SearchService.column_table)
    def GetSpaceColumns(self, request, context) -> Iterator[webmap_pb2.ArrowChunk]:
        table = call(context, self.service.column_table, **arguments(request))
        for data in arrow_chunks(table):
            check_deadline(context)
            yield webmap_pb2.ArrowChunk(data=data)

    @serves(SearchService.item_card)
    def GetItemCard(self, request, context):
        return self._unary(context, webmap_pb2.ItemCard, self.service.item_card, request)

    @serves(SearchService.map_image)
    def GetMapImage(self, request, context):
        png = call(context, self.service.map_image, **arguments(request))
        return items_pb2.ItemImage(content=png, media_type="image/png", etag="")

    @serves(SearchService.export_items)
    def ExportItems(self, request, context):
        return webmap_pb2.ExportedItems(parquet=call(context, self.service.export_items, **arguments(request)))

    @serves(SearchService.reload)
    def Reload(self, request, context):
        return self._unary(context, admin_pb2.ReloadReply, self.service.reload, request)
