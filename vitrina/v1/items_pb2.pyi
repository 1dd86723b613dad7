from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Item(_message.Message):
    __slots__ = ("bundle_version", "id", "title", "text", "metadata", "image_url", "spaces")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    id: str
    title: str
    text: str
    metadata: _struct_pb2.Struct
    image_url: str
    spaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bundle_version: _Optional[str] = ..., id: _Optional[str] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., image_url: _Optional[str] = ..., spaces: _Optional[_Iterable[str]] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "score", "rank", "title", "metadata", "image_url")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    score: float
    rank: int
    title: str
    metadata: _struct_pb2.Struct
    image_url: str
    def __init__(self, id: _Optional[str] = ..., score: _Optional[float] = ..., rank: _Optional[int] = ..., title: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., image_url: _Optional[str] = ...) -> None: ...

class Hits(_message.Message):
    __slots__ = ("bundle_version", "hits")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    def __init__(self, bundle_version: _Optional[str] = ..., hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class GetItemImageRequest(_message.Message):
    __slots__ = ("item_id", "size")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    size: int
    def __init__(self, item_id: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class ItemImage(_message.Message):
    __slots__ = ("content", "media_type", "etag")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    media_type: str
    etag: str
    def __init__(self, content: _Optional[bytes] = ..., media_type: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class GetNeighboursRequest(_message.Message):
    __slots__ = ("item_id", "space", "k", "filter")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    space: str
    k: int
    filter: _struct_pb2.Struct
    def __init__(self, item_id: _Optional[str] = ..., space: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
