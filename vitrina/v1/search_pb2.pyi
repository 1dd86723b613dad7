from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchTextRequest(_message.Message):
    __slots__ = ("query", "space", "k", "filter")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    query: str
    space: str
    k: int
    filter: _struct_pb2.Struct
    def __init__(self, query: _Optional[str] = ..., space: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SearchTextBatchRequest(_message.Message):
    __slots__ = ("queries", "space", "k", "filter")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedScalarFieldContainer[str]
    space: str
    k: int
    filter: _struct_pb2.Struct
    def __init__(self, queries: _Optional[_Iterable[str]] = ..., space: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetNeighboursBatchRequest(_message.Message):
    __slots__ = ("item_ids", "space", "k", "filter")
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    space: str
    k: int
    filter: _struct_pb2.Struct
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ..., space: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SearchImageRequest(_message.Message):
    __slots__ = ("file", "content_type", "space", "k", "filter")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    file: bytes
    content_type: str
    space: str
    k: int
    filter: _struct_pb2.Struct
    def __init__(self, file: _Optional[bytes] = ..., content_type: _Optional[str] = ..., space: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
