from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExplainRequest(_message.Message):
    __slots__ = ("space", "query", "item", "target", "kinds", "steps", "heatmap_method", "reduction", "heatmap_baseline")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    HEATMAP_METHOD_FIELD_NUMBER: _ClassVar[int]
    REDUCTION_FIELD_NUMBER: _ClassVar[int]
    HEATMAP_BASELINE_FIELD_NUMBER: _ClassVar[int]
    space: str
    query: str
    item: str
    target: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    steps: int
    heatmap_method: str
    reduction: str
    heatmap_baseline: str
    def __init__(self, space: _Optional[str] = ..., query: _Optional[str] = ..., item: _Optional[str] = ..., target: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., steps: _Optional[int] = ..., heatmap_method: _Optional[str] = ..., reduction: _Optional[str] = ..., heatmap_baseline: _Optional[str] = ...) -> None: ...

class ExplainSide(_message.Message):
    __slots__ = ("query", "item", "title")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    query: str
    item: str
    title: str
    def __init__(self, query: _Optional[str] = ..., item: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class WordScore(_message.Message):
    __slots__ = ("word", "start", "end", "score", "normalised")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    NORMALISED_FIELD_NUMBER: _ClassVar[int]
    word: str
    start: int
    end: int
    score: float
    normalised: float
    def __init__(self, word: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., score: _Optional[float] = ..., normalised: _Optional[float] = ...) -> None: ...

class Words(_message.Message):
    __slots__ = ("side", "id", "against", "text", "words", "score", "baseline_score", "delta", "n_steps", "reduction", "precomputed", "method")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    AGAINST_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SCORE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    REDUCTION_FIELD_NUMBER: _ClassVar[int]
    PRECOMPUTED_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    side: str
    id: str
    against: str
    text: str
    words: _containers.RepeatedCompositeFieldContainer[WordScore]
    score: float
    baseline_score: float
    delta: float
    n_steps: int
    reduction: str
    precomputed: bool
    method: str
    def __init__(self, side: _Optional[str] = ..., id: _Optional[str] = ..., against: _Optional[str] = ..., text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[WordScore, _Mapping]]] = ..., score: _Optional[float] = ..., baseline_score: _Optional[float] = ..., delta: _Optional[float] = ..., n_steps: _Optional[int] = ..., reduction: _Optional[str] = ..., precomputed: _Optional[bool] = ..., method: _Optional[str] = ...) -> None: ...

class Heatmap(_message.Message):
    __slots__ = ("side", "id", "against", "method", "baseline", "n_steps", "score", "baseline_score", "delta", "shape", "grid", "mass", "box", "image_size", "png_url")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    AGAINST_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SCORE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    MASS_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PNG_URL_FIELD_NUMBER: _ClassVar[int]
    side: str
    id: str
    against: str
    method: str
    baseline: str
    n_steps: int
    score: float
    baseline_score: float
    delta: float
    shape: _containers.RepeatedScalarFieldContainer[int]
    grid: _struct_pb2.ListValue
    mass: _struct_pb2.ListValue
    box: _containers.RepeatedScalarFieldContainer[float]
    image_size: _containers.RepeatedScalarFieldContainer[int]
    png_url: str
    def __init__(self, side: _Optional[str] = ..., id: _Optional[str] = ..., against: _Optional[str] = ..., method: _Optional[str] = ..., baseline: _Optional[str] = ..., n_steps: _Optional[int] = ..., score: _Optional[float] = ..., baseline_score: _Optional[float] = ..., delta: _Optional[float] = ..., shape: _Optional[_Iterable[int]] = ..., grid: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ..., mass: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ..., box: _Optional[_Iterable[float]] = ..., image_size: _Optional[_Iterable[int]] = ..., png_url: _Optional[str] = ...) -> None: ...

class SpaceScore(_message.Message):
    __slots__ = ("space", "similarity", "rank", "of", "note")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    OF_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    space: str
    similarity: float
    rank: int
    of: int
    note: str
    def __init__(self, space: _Optional[str] = ..., similarity: _Optional[float] = ..., rank: _Optional[int] = ..., of: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class MetadataBreakdown(_message.Message):
    __slots__ = ("shared", "differing", "only_source", "only_target", "spaces")
    SHARED_FIELD_NUMBER: _ClassVar[int]
    DIFFERING_FIELD_NUMBER: _ClassVar[int]
    ONLY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    ONLY_TARGET_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    shared: _struct_pb2.Struct
    differing: _struct_pb2.Struct
    only_source: _struct_pb2.Struct
    only_target: _struct_pb2.Struct
    spaces: _containers.RepeatedCompositeFieldContainer[SpaceScore]
    def __init__(self, shared: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., differing: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., only_source: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., only_target: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., spaces: _Optional[_Iterable[_Union[SpaceScore, _Mapping]]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("bundle_version", "space", "source", "target", "similarity", "words", "heatmaps", "metadata", "skipped", "cached", "seconds")
    class SkippedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    HEATMAPS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    space: str
    source: ExplainSide
    target: ExplainSide
    similarity: float
    words: _containers.RepeatedCompositeFieldContainer[Words]
    heatmaps: _containers.RepeatedCompositeFieldContainer[Heatmap]
    metadata: MetadataBreakdown
    skipped: _containers.ScalarMap[str, str]
    cached: bool
    seconds: float
    def __init__(self, bundle_version: _Optional[str] = ..., space: _Optional[str] = ..., source: _Optional[_Union[ExplainSide, _Mapping]] = ..., target: _Optional[_Union[ExplainSide, _Mapping]] = ..., similarity: _Optional[float] = ..., words: _Optional[_Iterable[_Union[Words, _Mapping]]] = ..., heatmaps: _Optional[_Iterable[_Union[Heatmap, _Mapping]]] = ..., metadata: _Optional[_Union[MetadataBreakdown, _Mapping]] = ..., skipped: _Optional[_Mapping[str, str]] = ..., cached: _Optional[bool] = ..., seconds: _Optional[float] = ...) -> None: ...

class GetExplainHeatmapRequest(_message.Message):
    __slots__ = ("heatmap_id",)
    HEATMAP_ID_FIELD_NUMBER: _ClassVar[int]
    heatmap_id: str
    def __init__(self, heatmap_id: _Optional[str] = ...) -> None: ...
