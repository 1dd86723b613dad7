import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Encoder(_message.Message):
    __slots__ = ("modality", "spec", "fingerprint")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    modality: str
    spec: str
    fingerprint: str
    def __init__(self, modality: _Optional[str] = ..., spec: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class Space(_message.Message):
    __slots__ = ("name", "rows", "dim", "metric", "indexed_modality", "query_modalities", "index_factory", "recall_at_10", "encoders")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    INDEXED_MODALITY_FIELD_NUMBER: _ClassVar[int]
    QUERY_MODALITIES_FIELD_NUMBER: _ClassVar[int]
    INDEX_FACTORY_FIELD_NUMBER: _ClassVar[int]
    RECALL_AT_10_FIELD_NUMBER: _ClassVar[int]
    ENCODERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    rows: int
    dim: int
    metric: str
    indexed_modality: str
    query_modalities: _containers.RepeatedScalarFieldContainer[str]
    index_factory: str
    recall_at_10: float
    encoders: _containers.RepeatedCompositeFieldContainer[Encoder]
    def __init__(self, name: _Optional[str] = ..., rows: _Optional[int] = ..., dim: _Optional[int] = ..., metric: _Optional[str] = ..., indexed_modality: _Optional[str] = ..., query_modalities: _Optional[_Iterable[str]] = ..., index_factory: _Optional[str] = ..., recall_at_10: _Optional[float] = ..., encoders: _Optional[_Iterable[_Union[Encoder, _Mapping]]] = ...) -> None: ...

class Bundle(_message.Message):
    __slots__ = ("collection", "version", "parent", "created_at", "items", "spaces", "current_version", "versions")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    version: str
    parent: str
    created_at: _timestamp_pb2.Timestamp
    items: int
    spaces: _containers.RepeatedCompositeFieldContainer[Space]
    current_version: str
    versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., version: _Optional[str] = ..., parent: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[int] = ..., spaces: _Optional[_Iterable[_Union[Space, _Mapping]]] = ..., current_version: _Optional[str] = ..., versions: _Optional[_Iterable[str]] = ...) -> None: ...

class GetBundleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
