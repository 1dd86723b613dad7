from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListColumnsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "kind", "present", "distinct", "min", "max", "top")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    present: int
    distinct: int
    min: float
    max: float
    top: _containers.RepeatedCompositeFieldContainer[ValueCount]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., present: _Optional[int] = ..., distinct: _Optional[int] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., top: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ...) -> None: ...

class Columns(_message.Message):
    __slots__ = ("bundle_version", "items", "columns")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    items: int
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    def __init__(self, bundle_version: _Optional[str] = ..., items: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ...) -> None: ...

class GetSpaceColumnsRequest(_message.Message):
    __slots__ = ("space", "names")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    space: str
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, space: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class ArrowChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class GetItemCardRequest(_message.Message):
    __slots__ = ("item_id", "words", "compute")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    words: int
    compute: bool
    def __init__(self, item_id: _Optional[str] = ..., words: _Optional[int] = ..., compute: _Optional[bool] = ...) -> None: ...

class SalientWord(_message.Message):
    __slots__ = ("word", "start", "end", "score")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    word: str
    start: int
    end: int
    score: float
    def __init__(self, word: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., score: _Optional[float] = ...) -> None: ...

class SalientWords(_message.Message):
    __slots__ = ("space", "words")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    space: str
    words: _containers.RepeatedCompositeFieldContainer[SalientWord]
    def __init__(self, space: _Optional[str] = ..., words: _Optional[_Iterable[_Union[SalientWord, _Mapping]]] = ...) -> None: ...

class ItemCard(_message.Message):
    __slots__ = ("bundle_version", "id", "title", "text", "metadata", "image_url", "spaces", "salient")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    SALIENT_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    id: str
    title: str
    text: str
    metadata: _struct_pb2.Struct
    image_url: str
    spaces: _containers.RepeatedScalarFieldContainer[str]
    salient: _containers.RepeatedCompositeFieldContainer[SalientWords]
    def __init__(self, bundle_version: _Optional[str] = ..., id: _Optional[str] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., image_url: _Optional[str] = ..., spaces: _Optional[_Iterable[str]] = ..., salient: _Optional[_Iterable[_Union[SalientWords, _Mapping]]] = ...) -> None: ...

class GetMapImageRequest(_message.Message):
    __slots__ = ("space", "method", "colour", "width", "height", "theme")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    THEME_FIELD_NUMBER: _ClassVar[int]
    space: str
    method: str
    colour: str
    width: int
    height: int
    theme: str
    def __init__(self, space: _Optional[str] = ..., method: _Optional[str] = ..., colour: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., theme: _Optional[str] = ...) -> None: ...

class ExportItemsRequest(_message.Message):
    __slots__ = ("ids", "space")
    IDS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    space: str
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., space: _Optional[str] = ...) -> None: ...

class ExportedItems(_message.Message):
    __slots__ = ("parquet",)
    PARQUET_FIELD_NUMBER: _ClassVar[int]
    parquet: bytes
    def __init__(self, parquet: _Optional[bytes] = ...) -> None: ...
