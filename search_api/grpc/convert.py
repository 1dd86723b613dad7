"""Views <-> protobuf messages, generically: every proto field is named as its view's field.

Out: `to_message` parses the view's JSON form (what REST sends) into the message. In:
`to_dict` gives back that JSON form, so `View.model_validate` reads either transport's
answer. Requests become the service method's keyword arguments by the same naming rule.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from pydantic import BaseModel

from vitrina.search_api.models import ProjectionColumns
from vitrina.v1 import maps_pb2

M = TypeVar("M", bound=Message)
V = TypeVar("V", bound=BaseModel)

_STRUCT = "google.protobuf.Struct"
# The JSON mapping writes 64-bit integers as strings (JavaScript numbers are doubles).
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
          FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64}
# Rows per ProjectionColumns chunk: ~2 MB, under gRPC's default 4 MB message limit.
CHUNK_ROWS = 65_536


def to_message(view: BaseModel, message_type: type[M]) -> M:
    return json_format.ParseDict(view.model_dump(mode="json"), message_type())


def to_view(message: Message, view_type: type[V]) -> V:
    return view_type.model_validate(to_dict(message))


def to_dict(message: Message) -> dict[str, Any]:
    """The message as its view's JSON: unset optional fields are None, 64-bit integers are
    numbers, and whole numbers in a Struct (metadata) are ints again, as REST sends them."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _as_json(message, data)
    return data


def _as_json(message: Message, data: dict[str, Any]) -> None:
    for field in message.DESCRIPTOR.fields:
        name, kind = field.name, field.message_type and field.message_type.full_name
        if name not in data:
            # Only fields with presence are left out; the views spell their absence null / {}.
            data[name] = {} if kind == _STRUCT else None
        elif field.type in _INT64:
            data[name] = [int(v) for v in data[name]] if field.is_repeated else int(data[name])
        elif kind == _STRUCT:
            data[name] = _whole_numbers(data[name])
        elif field.message_type is not None and not kind.startswith("google.protobuf."):
            value = getattr(message, name)
            for sub, sub_data in zip(value, data[name]) if field.is_repeated else [(value, data[name])]:
                _as_json(sub, sub_data)


def _whole_numbers(value: Any) -> Any:
    # Struct has one number type, so a year of 1900 arrives as 1900.0; integers are far more
    # common in metadata than whole floats, and 2 == 2.0 for anyone who compares.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def arguments(request: Message, **renames: str) -> dict[str, Any]:
    """The request's fields as keyword arguments, under their field name or `renames[name]`.

    Optional fields the client did not set are left out, so the service's own defaults
    apply (as REST's do); a Struct (filter) becomes a dict.
    """
    out: dict[str, Any] = {}
    for field in request.DESCRIPTOR.fields:
        if field.has_presence and not request.HasField(field.name):
            continue
        value = getattr(request, field.name)
        if field.message_type is not None and field.message_type.full_name == _STRUCT:
            value = json_format.MessageToDict(value)
        elif field.is_repeated:
            value = list(value)
        out[renames.get(field.name, field.name)] = value
    return out


def projection_message(columns: ProjectionColumns) -> maps_pb2.Projection:
    """Built from the columns, not through the view: 5x faster on a 100k-point map, where
    the view plus `to_message` take seconds."""
    labels = columns.labels.tolist() if columns.labels is not None else [None] * len(columns.ids)
    point = maps_pb2.MapPoint
    points = [
        point(id=i, x=x, y=y, cluster=c)
        for i, x, y, c in zip(columns.ids, columns.coords[:, 0].tolist(), columns.coords[:, 1].tolist(), labels)
    ]
    return maps_pb2.Projection(**columns.header(), points=points)


def projection_chunks(columns: ProjectionColumns, rows: int = CHUNK_ROWS) -> Iterator[maps_pb2.ProjectionColumns]:
    header = maps_pb2.Projection(**columns.header())
    for start in range(0, max(len(columns.ids), 1), rows):
        stop = start + rows
        yield maps_pb2.ProjectionColumns(
            header=header,
            ids=columns.ids[start:stop],
            x=columns.coords[start:stop, 0].tolist(),
            y=columns.coords[start:stop, 1].tolist(),
            cluster=[] if columns.labels is None else columns.labels[start:stop].tolist(),
        )


def arrow_chunks(table, rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """`table` as the pieces of one Arrow IPC stream (schema, batches of `rows` rows, end)."""
    from vitrina.search_api.arrow_ipc import ipc_stream

    return (piece for piece in ipc_stream(table.schema, table.to_batches(max_chunksize=rows)) if piece)


def to_request(request_type: type[M], renames: dict[str, str] | None = None, **kwargs: Any) -> M:
    """The inverse of `arguments`: a request from keyword arguments (None: not set, so the
    server's default applies), a dict becoming a Struct; `renames` maps argument to field."""
    renames = renames or {}
    request = request_type()
    for name, value in kwargs.items():
        if value is None:
            continue
        field = renames.get(name, name)
        if isinstance(value, Mapping):
            getattr(request, field).update(value)
        elif isinstance(value, (list, tuple)):
            getattr(request, field).extend(value)
        else:
            setattr(request, field, value)
    return request
