"""The Vitrina gRPC service: each RPC is one SearchService call, converted generically.

Deadlines: the service's work cannot be interrupted once started, so the deadline is checked
before it (a request that waited out its deadline in the queue costs nothing) and again
before converting the answer (a large map is work too).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, TypeVar

import grpc
from google.protobuf.message import Message

from vitrina.search_api.errors import ServiceError
from vitrina.search_api.explain_models import ExplainRequest
from vitrina.search_api.grpc.convert import arguments, projection_chunks, projection_message, to_message
from vitrina.search_api.grpc.status import abort
from vitrina.search_api.models import THUMBNAIL_SIZE
from vitrina.search_api.service import SearchService
from vitrina.v1 import bundle_pb2, explain_pb2, items_pb2, maps_pb2, vitrina_pb2_grpc

M = TypeVar("M", bound=Message)
T = TypeVar("T")
log = logging.getLogger("vitrina.search_api")


def check_deadline(context: grpc.ServicerContext) -> None:
    if context.time_remaining() <= 0:
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded; the request was not answered")


def call(context: grpc.ServicerContext, operation: Callable[..., T], **kwargs: Any) -> T:
    """`operation(**kwargs)` within the deadline, its ServiceError as the matching status."""
    check_deadline(context)
    try:
        result = operation(**kwargs)
    except ServiceError as error:
        abort(context, error)
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

    def GetItem(self, request, context):
        return self._unary(context, items_pb2.Item, self.service.get_item, request)

    def GetItemImage(self, request, context):
        thumb = call(context, self.service.thumbnail, **{"size": THUMBNAIL_SIZE, **arguments(request)})
        return items_pb2.ItemImage(content=thumb.content, media_type=thumb.media_type, etag=thumb.etag)

    def GetNeighbours(self, request, context):
        return self._unary(context, items_pb2.Hits, self.service.neighbours, request)

    def SearchText(self, request, context):
        return self._unary(context, items_pb2.Hits, self.service.search_text, request)

    def SearchImage(self, request, context):
        return self._unary(context, items_pb2.Hits, self.service.search_image, request, file="image")

    def GetProjection(self, request, context):
        return projection_message(call(context, self.service.projection_columns, **arguments(request)))

    def GetProjectionColumns(self, request, context) -> Iterator[maps_pb2.ProjectionColumns]:
        columns = call(context, self.service.projection_columns, **arguments(request))
        for chunk in projection_chunks(columns):
            check_deadline(context)
            yield chunk

    def ListClusters(self, request, context):
        return self._unary(context, maps_pb2.Clusters, self.service.clusters, request)

    def ListClusterItems(self, request, context):
        return self._unary(context, maps_pb2.ClusterItems, self.service.cluster_items, request)

    def ListOutliers(self, request, context):
        return self._unary(context, maps_pb2.Outliers, self.service.outliers, request)

    def GetBundle(self, request, context):
        return self._unary(context, bundle_pb2.Bundle, self.service.bundle_info, request)

    def Explain(self, request, context):
        fields = arguments(request)
        if not fields.get("kinds"):  # an empty repeated field: the REST default (every kind)
            fields.pop("kinds", None)
        view = call(context, lambda: self.service.explain(ExplainRequest.parse(fields)))
        return to_message(view, explain_pb2.Explanation)

    def GetExplainHeatmap(self, request, context):
        png = call(context, self.service.explain_heatmap_png, **arguments(request))
        return items_pb2.ItemImage(content=png, media_type="image/png", etag=f'"{request.heatmap_id}"')
